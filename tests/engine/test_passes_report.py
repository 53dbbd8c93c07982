"""--passes on the CLI and in run_benchmark: config recording and lineage."""
import json

import pytest

from engine.benchmark import RunOptions, run_benchmark
from engine.cli import main
from engine.ir import model_version
from engine.models import build_model
from engine.report import Report

SMALL = {"batch": 4, "sizes": [16, 32, 8]}


def test_run_benchmark_records_requested_passes_noops_and_fused_lineage(probes):
    run = run_benchmark("mlp", SMALL, RunOptions(warmup=0, repeats=1, passes="all"))
    rep = run.report
    assert rep.config.passes == ["constant_folding", "transpose_reshape", "cse", "conv_batchnorm", "conv_relu",
                                 "attention", "linear_activation", "activation_unit", "embedding_group", "dead_nodes"]
    assert "linear_activation" not in rep.config.flags["passes_noop"]
    assert "conv_relu" in rep.config.flags["passes_noop"]
    assert [(ly.name, ly.op, ly.sources) for ly in rep.layers] == [
        ("fc1+relu1", "FusedLinear", ["fc1", "relu1"]), ("fc2", "Linear", ["fc2"])]
    assert rep.benchmark.model_version == model_version(build_model("mlp", **SMALL).graph)


def test_no_passes_keeps_the_old_config_and_one_layer_per_node(probes):
    rep = run_benchmark("mlp", SMALL, RunOptions(warmup=0, repeats=1)).report
    assert rep.config.passes == [] and "passes_noop" not in rep.config.flags
    assert all(ly.sources == [ly.name] for ly in rep.layers) and len(rep.layers) == 3


def test_the_cli_writes_fused_layers_with_lineage(probes, tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(["run", "dlrm_small", "--warmup", "0", "--repeats", "1", "--passes", "linear_activation",
                 "--json", str(out)])
    assert code == 0
    rep = Report.from_dict(json.loads(out.read_text()))
    assert rep.config.passes == ["linear_activation"] and rep.config.flags["passes_noop"] == []
    fused = {ly.name: ly.sources for ly in rep.layers if ly.op == "FusedLinear"}
    assert fused["top.fc3+top.sigmoid3"] == ["top.fc3", "top.sigmoid3"]
    assert "covers top.fc3, top.sigmoid3" in capsys.readouterr().out


def test_the_cli_rejects_an_unknown_pass_listing_the_valid_ones(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "mlp", "--passes", "fuse_everything"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown pass(es) 'fuse_everything'" in err and "linear_activation" in err
