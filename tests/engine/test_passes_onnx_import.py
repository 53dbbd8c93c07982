"""Passes on imported ONNX graphs: every zoo model whose export imports back
optimizes to the same outputs, to the same fused layers (same names and ops)
as the zoo graph does, with lineage naming the imported nodes; and
`run --onnx FILE --passes` records them."""
import json
from collections import Counter

import numpy as np
import pytest

from engine.cli import main
from engine.executor import run_graph
from engine.models import MODELS, build_model
from engine.onnx_io import export_onnx, import_onnx
from engine.onnx_io.import_graph import IMPORTERS
from engine.passes import run_passes
from engine.report import Report

SMALL = [name for name in MODELS if name == "mlp" or name.endswith("_small")]
# Their exports use ONNX ops the importer refuses by name (ScatterND, Where, ...), so they never import back.
NOT_IMPORTABLE = {"dlrm_small", "wdl_small", "dien_small"}
CASES = [(name, {"batch": 4} if name == "mlp" else {}) for name in SMALL if name not in NOT_IMPORTABLE] + [
    ("transformer_small", {"fused": 1})]
FUSED = {"FusedLinear", "FusedConv", "MultiHeadAttention", "GroupedEmbeddingBag"}


def foreign_ops(name: str) -> set[str]:
    exported = export_onnx(build_model(name, **({"batch": 4} if name == "mlp" else {})).graph)
    return {n.op_type for n in exported.graph.node} - set(IMPORTERS)


def test_exactly_the_models_left_out_export_ops_the_importer_refuses():
    assert {name for name in SMALL if foreign_ops(name)} == NOT_IMPORTABLE


@pytest.mark.parametrize("name,params", CASES, ids=[f"{n}{'-fused' if p.get('fused') else ''}" for n, p in CASES])
def test_an_imported_zoo_model_optimizes_like_the_zoo_model(name, params):
    model = build_model(name, **params)
    imported = import_onnx(export_onnx(model.graph))
    result = run_passes(imported, "all")
    inputs = model.make_inputs(0)
    before, after = run_graph(imported, inputs), run_graph(result.graph, inputs)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], rtol=1e-4, atol=1e-5, err_msg=key)
    zoo = run_passes(model.graph, "all").graph
    assert [(n.name, n.op) for n in result.graph.nodes] == [(n.name, n.op) for n in zoo.nodes]
    fused = [n for n in result.graph.nodes if n.op in FUSED]
    assert fused and all(len(result.lineage[n.name]) > 1 for n in fused)
    covered = [src for srcs in result.lineage.values() for src in srcs]
    assert set(covered) <= {n.name for n in imported.nodes} and len(covered) == len(set(covered))


def test_the_imported_transformer_keeps_attention_and_ffn_fusions():
    imported = import_onnx(export_onnx(build_model("transformer_small", fused=1).graph))
    ops = Counter(n.op for n in run_passes(imported, "all").graph.nodes)
    assert ops["MultiHeadAttention"] == 2 and ops["FusedLinear"] == 2
    assert not ops["Transpose"] and not ops["MatMul"] and not ops["Softmax"]


def test_run_onnx_with_passes_records_the_fused_layers_and_their_sources(probes, tmp_path, capsys):
    path = tmp_path / "mlp.onnx"
    assert main(["export-onnx", "mlp", str(path), "--batch", "3", "--param", "sizes=16,32,32,4"]) == 0
    report_path = tmp_path / "run.json"
    assert main(["run", "--onnx", str(path), "--passes", "all", "--warmup", "0", "--repeats", "2",
                 "--json", str(report_path)]) == 0
    assert "passes applied: linear_activation" in capsys.readouterr().out
    report = Report.from_dict(json.loads(report_path.read_text()))
    assert report.benchmark.model == "onnx:mlp" and "linear_activation" in report.config.passes
    assert [(ly.name, ly.op, ly.sources) for ly in report.layers] == [
        ("fc1+relu1", "FusedLinear", ["fc1", "relu1"]), ("fc2+relu2", "FusedLinear", ["fc2", "relu2"]),
        ("fc3", "Linear", ["fc3"])]


def test_run_onnx_refuses_an_unknown_pass_naming_it(tmp_path, capsys):
    path = tmp_path / "mlp.onnx"
    assert main(["export-onnx", "mlp", str(path), "--batch", "3", "--param", "sizes=16,32,4"]) == 0
    with pytest.raises(SystemExit) as exc:
        main(["run", "--onnx", str(path), "--passes", "fold_everything"])
    assert exc.value.code == 2 and "fold_everything" in capsys.readouterr().err


def test_run_onnx_with_passes_and_quant_records_both(probes, tmp_path, capsys):
    path = tmp_path / "mlp.onnx"
    assert main(["export-onnx", "mlp", str(path), "--batch", "3", "--param", "sizes=16,32,4"]) == 0
    report_path = tmp_path / "run.json"
    assert main(["run", "--onnx", str(path), "--passes", "linear_activation", "--quant", "int8", "--warmup", "0",
                 "--repeats", "2", "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["config"]["passes"] == ["linear_activation"] and report["config"]["quant"] == "int8"
    assert [(ly["name"], ly["sources"]) for ly in report["layers"]] == [("fc1+relu1", ["fc1", "relu1"]),
                                                                        ("fc2", ["fc2"])]
    assert report["accuracy"]["samples"] > 0 and report["accuracy"]["reference"] == "fp32"
