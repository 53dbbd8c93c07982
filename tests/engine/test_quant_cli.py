import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.models import build_model
from engine.report import Report

REPO = Path(__file__).resolve().parents[2]
DLRM_SMALL = ["--batch", "8", "--param", "rows=1000", "--param", "pooling=4", "--warmup", "1", "--repeats", "2"]
MLP_SMALL = ["--batch", "4", "--param", "sizes=16,32,8", "--warmup", "0", "--repeats", "1"]


def test_dlrm_with_all_passes_and_8_bit_embeddings_reports_lineage_and_accuracy(probes, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", "dlrm", *DLRM_SMALL, "--passes", "all", "--quant", "int8-rowwise-emb",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "quant int8-rowwise-emb" in printed and "accuracy vs fp32 on 64 held-out samples" in printed
    report = Report.from_dict(json.loads(out.read_text()))
    assert report == Report.from_dict(json.loads(report.to_json()))
    assert report.config.quant == "int8-rowwise-emb" and report.config.flags["quant_noop"] == []
    tables = [n.name for n in build_model("dlrm", batch=8, rows=1000, pooling=4).graph.nodes
              if n.op == "EmbeddingBag"]
    embedding = [ly for ly in report.layers if set(tables) <= set(ly.sources)]
    assert len(embedding) == 1 and embedding[0].op not in ("EmbeddingBag", "GroupedEmbeddingBag")
    assert any(len(ly.sources) > 1 and ly.op == "FusedLinear" for ly in report.layers)  # fused, fp32 dense
    acc = report.accuracy
    assert acc is not None and acc.reference == "fp32" and acc.samples == 64
    assert acc.metric == "auc_agreement" and 0.9 <= acc.agreement <= 1.0
    assert 0 < acc.max_abs_error < 0.05 and 0 < acc.mean_abs_error <= acc.max_abs_error
    assert acc.fp32_layers == [] and acc.calibration is None


def test_an_fp32_run_has_no_accuracy_and_old_reports_read_the_same(probes, tmp_path):
    out = tmp_path / "r.json"
    assert main(["run", "mlp", *MLP_SMALL, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["accuracy"] is None and doc["config"]["quant"] == "none"
    del doc["accuracy"]  # a report written before the field existed
    assert Report.from_dict(doc).accuracy is None


def test_static_int8_records_calibration_and_the_layers_kept_in_fp32(probes, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["run", "mlp", *MLP_SMALL, "--quant", "int8-static", "--calibration", "minmax",
                 "--quant-fp32", "fc2", "--json", str(out)]) == 0
    assert "kept in fp32: fc2" in capsys.readouterr().out
    report = Report.from_dict(json.loads(out.read_text()))
    assert report.accuracy.calibration == "minmax" and report.accuracy.fp32_layers == ["fc2"]
    assert report.accuracy.metric == "none" and report.accuracy.agreement is None
    assert report.config.flags["quant_fp32"] == ["fc2"]
    ops = {ly.name: ly.op for ly in report.layers}
    assert ops["fc2"] == "Linear" and ops["fc1"] != "Linear"


@pytest.mark.parametrize("argv, message", [
    (["--quant", "int9"], "unknown quant mode(s) 'int9'"),
    (["--quant", "int8,fp16"], "two dense modes"),
    (["--quant", "int8-static", "--calibration", "entropy"], "invalid choice: 'entropy'"),
])
def test_a_bad_quant_option_is_an_argparse_error_listing_the_valid_values(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "mlp", *MLP_SMALL, *argv])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err


@pytest.mark.parametrize("argv, message", [
    (["--quant", "int8", "--calibration", "kl"], "calibration applies to int8-static only"),
    (["--quant", "int8", "--quant-fp32", "fc9"], "'fc9', which --quant int8 would not quantize; "
                                                 "the quantizable layers are: fc1, fc2"),
    (["--quant-fp32", "fc1"], "without --quant"),
])
def test_a_bad_quant_combination_exits_2_with_a_message(probes, argv, message, capsys):
    assert main(["run", "mlp", *MLP_SMALL, *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_mode_exits_2_without_a_traceback():
    done = subprocess.run([sys.executable, "-m", "engine.cli", "run", "mlp", "--quant", "int3"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "int8-rowwise-emb" in done.stderr and "Traceback" not in done.stderr


def test_quant_sweep_prints_the_table_and_the_run_options(capsys):
    assert main(["quant-sweep", "mlp", "--batch", "4", "--param", "sizes=16,32,8", "--quant", "int8",
                 "--max-abs-error", "0", "--seeds", "2"]) == 0
    printed = capsys.readouterr().out
    assert "sensitivity, each layer quantized alone" in printed
    assert "fc1" in printed and "fc2" in printed
    assert "budget met only with every quantizable layer in fp32" in printed
    assert "use: roofwatch-engine run mlp --param sizes=16,32,8 --batch 4 --quant int8\n" in printed


def test_quant_sweep_with_a_loose_budget_keeps_nothing(capsys):
    assert main(["quant-sweep", "dlrm_small", "--passes", "all", "--quant", "int8,int8-rowwise-emb",
                 "--min-agreement", "0.5", "--seeds", "2"]) == 0
    printed = capsys.readouterr().out
    assert "budget met with 0 of" in printed
    assert "use: roofwatch-engine run dlrm_small --passes all --quant int8,int8-rowwise-emb\n" in printed


@pytest.mark.parametrize("argv, message", [
    (["--quant", "int8"], "--max-abs-error and/or --min-agreement"),
    (["--quant", "int8", "--min-agreement", "0.9"], "no agreement metric"),
    (["--quant", "none", "--max-abs-error", "1"], "other than 'none'"),
])
def test_quant_sweep_refuses_a_budget_it_cannot_use(argv, message, capsys):
    assert main(["quant-sweep", "mlp", "--batch", "4", "--param", "sizes=16,8", *argv]) == 2
    assert message in capsys.readouterr().err
