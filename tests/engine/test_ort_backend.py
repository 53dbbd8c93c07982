"""The onnxruntime backend: a model the engine never exported, run in
onnxruntime with its profiler; layers, lineage, exact FLOPs; bad input."""
import json
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from engine import cli
from engine.benchmark import RunOptions, run_benchmark
from engine.onnx_io.ort_backend import (
    OrtOptionError, profile_onnx_model, run_onnx_file_ort, run_zoo_ort,
)
from engine.onnx_io.ort_profile import OrtLoadError, OrtMissing, import_ort
from engine.onnx_io.ort_work import group_work, model_work
from engine.report import BACKEND_ORT, Report
from tests.engine.ort_small_model import BATCH, BYTES, FLOPS, small_model

QUICK = RunOptions(warmup=1, repeats=6, threads=1)


def _feeds(batch=BATCH):
    return {"x": np.random.default_rng(0).standard_normal((batch, 3, 8, 8)).astype(np.float32)}


@pytest.fixture
def small_run(probes):
    return profile_onnx_model(small_model(), _feeds(), name="small", params={"batch": BATCH}, version="v",
                              options=QUICK)


def test_layers_are_the_nodes_onnxruntime_ran_and_cover_every_original_node_once(small_run):
    rep, times = small_run.report, small_run.times
    ran = [n.name for n in times.optimized.graph.node]
    assert sorted(ly.name for ly in rep.layers) == sorted(ran)
    assert [ly.index for ly in rep.layers] == list(range(len(rep.layers)))
    # nodes that share their sources (a cluster, e.g. a conv in onnxruntime's blocked layout and the reorder
    # back) are one group; every original node is in exactly one group
    groups = {tuple(ly.sources) for ly in rep.layers}
    covered = [s for g in groups for s in g]
    assert sorted(covered) == sorted(FLOPS)
    assert all(ly.time.n == QUICK.repeats and ly.time.median > 0 for ly in rep.layers)


def test_flops_and_bytes_are_exact_for_single_and_fused_nodes(small_run):
    layers = small_run.report.layers
    fused = [ly for ly in layers if ly.sources == ["mm", "add", "relu"]]
    assert len(fused) == 1, [(ly.name, ly.sources) for ly in layers]  # MatMul + Add + Relu -> FusedGemm
    mm = fused[0]
    assert mm.name != "mm" and mm.op == "FusedGemm" and mm.work_unknown is None
    assert mm.flops == FLOPS["mm"] + FLOPS["add"] + FLOPS["relu"] == 2 * 2 * 256 * 16 + 2 * 16 + 2 * 16
    # the fused kernel neither writes nor reads mm.out and add.out: 2 x 2 x (BATCH x 16 floats) less
    assert mm.bytes == BYTES["mm"] + BYTES["add"] + BYTES["relu"] - 2 * 2 * 4 * BATCH * 16 == 18624
    assert mm.gflops == pytest.approx(mm.flops / mm.time.median / 1e9)
    assert mm.ai == pytest.approx(mm.flops / mm.bytes) and mm.bound in ("compute", "bandwidth")
    gemm = next(ly for ly in layers if ly.sources == ["gemm"])
    assert (gemm.name, gemm.flops, gemm.bytes) == ("gemm", FLOPS["gemm"], BYTES["gemm"])
    for ly in layers:
        if ly.work_unknown is None:
            assert ly.flops == sum(FLOPS[s] for s in ly.sources)
        else:  # never guessed
            assert ly.flops is None and ly.bytes is None and ly.gflops is None and ly.bound is None


def test_every_node_on_its_own_has_the_engines_formula_work():
    works, _ = model_work(small_model(), _feeds())
    assert {n: (w.flops, w.bytes) for n, w in works.items()} == {n: (FLOPS[n], BYTES[n]) for n in FLOPS}


def test_conv_and_relu_fused_give_the_sum_of_flops_and_drop_the_intermediate():
    model = small_model()
    works, specs = model_work(model, _feeds())
    nodes = {n.name: n for n in model.graph.node}
    w = group_work(["conv", "conv_relu"], works, nodes, specs, read_after=["conv.relu"])
    assert w.flops == FLOPS["conv"] + FLOPS["conv_relu"]
    assert w.bytes == BYTES["conv"] + BYTES["conv_relu"] - 2 * 4 * 2 * 4 * 64


def test_the_report_keeps_the_schema_and_names_the_backend(small_run):
    rep = small_run.report
    assert rep.config.backend == BACKEND_ORT and rep.benchmark.params == {"batch": BATCH, "backend": BACKEND_ORT}
    runtime = rep.config.runtime
    assert runtime["version"] == import_ort().__version__ and runtime["intra_op_num_threads"] == 1
    assert runtime["graph_optimization_level"] == "ORT_ENABLE_ALL" and rep.config.threads == 1
    assert rep.end_to_end.n == QUICK.repeats and rep.profiler_overhead is not None
    d = json.loads(rep.to_json())
    assert d["config"]["backend"] == BACKEND_ORT
    assert Report.from_dict(d) == rep


def test_an_engine_report_leaves_the_new_keys_out_so_todays_platform_takes_it(probes):
    rep = run_benchmark("mlp", {"batch": 4, "sizes": [16, 32, 8]}, RunOptions(warmup=0, repeats=2)).report
    d = rep.to_dict()
    assert "backend" not in d["config"] and "runtime" not in d["config"]
    assert all("work_unknown" not in ly for ly in d["layers"])
    assert Report.from_dict(d) == rep and rep.config.backend == "engine"


def test_an_op_without_an_engine_formula_has_null_work_with_the_reason(probes):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])
    graph = helper.make_graph([helper.make_node("Sin", ["x"], ["s"], name="sine"),
                               helper.make_node("Relu", ["s"], ["y"], name="r")], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    rep = profile_onnx_model(model, {"x": np.ones((4, 8), np.float32)}, name="g", params={}, version="v",
                             options=QUICK).report
    sine = next(ly for ly in rep.layers if ly.sources == ["sine"])
    assert sine.flops is None and sine.bytes is None and "'Sin' has no engine formula" in sine.work_unknown
    relu = next(ly for ly in rep.layers if ly.sources == ["r"])
    assert (relu.flops, relu.bytes, relu.work_unknown) == (32, 256, None)
    assert json.loads(rep.to_json())["layers"][sine.index]["work_unknown"] == sine.work_unknown


def test_a_zoo_model_runs_through_its_export_with_engine_node_names_in_sources(probes):
    rep = run_zoo_ort("mlp", {"batch": 4, "sizes": [16, 32, 8]}, QUICK).report
    assert rep.benchmark.model == "mlp" and rep.benchmark.params["backend"] == BACKEND_ORT
    assert [ly.sources for ly in rep.layers] == [["fc1", "relu1"], ["fc2"]]
    assert rep.layers[1].flops == 2 * 4 * 32 * 8 + 4 * 8


def test_a_file_runs_from_the_cli_with_a_symbolic_batch(probes, tmp_path, capsys):
    path = tmp_path / "small.onnx"
    onnx.save(small_model(batch="N"), path)
    out = tmp_path / "r.json"
    assert cli.main(["run", "--onnx", str(path), "--backend", "onnxruntime", "--batch", "3", "--repeats", "6",
                     "--warmup", "1", "--threads", "1", "--json", str(out)]) == 0
    rep = Report.from_dict(json.loads(out.read_text()))
    assert rep.benchmark.model == "onnx:small" and rep.benchmark.params["batch"] == 3
    gemm = next(ly for ly in rep.layers if ly.sources == ["gemm"])
    assert gemm.flops == 2 * 3 * 16 * 5 + 3 * 5
    assert "backend onnxruntime" in capsys.readouterr().out


def test_a_model_onnxruntime_cannot_load_names_the_node(probes):
    x = helper.make_tensor_value_info("x", TensorProto.INT64, [4])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, [4])
    graph = helper.make_graph([helper.make_node("Sin", ["x"], ["y"], name="bad_sine")], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(OrtLoadError, match="onnxruntime cannot load the model: .*bad_sine"):
        profile_onnx_model(model, {"x": np.ones(4, np.int64)}, name="g", params={}, version="v", options=QUICK)


def test_custom_domain_ops_are_named(probes):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    graph = helper.make_graph([helper.make_node("Frobnicate", ["x"], ["y"], name="frob", domain="com.example")],
                              "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    with pytest.raises(OrtOptionError, match=r"custom-domain op\(s\) frob \(com.example::Frobnicate\)"):
        profile_onnx_model(model, {"x": np.ones(4, np.float32)}, name="g", params={}, version="v", options=QUICK)


def test_a_missing_onnxruntime_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    with pytest.raises(OrtMissing, match="needs the onnxruntime package.*pip install onnxruntime"):
        import_ort()


@pytest.mark.parametrize("argv, named", [
    (["--passes", "all"], "--passes"), (["--quant", "int8"], "--quant"), (["--target-ci", "2"], "--target-ci"),
])
def test_engine_only_options_are_refused(argv, named, capsys):
    assert cli.main(["run", "mlp", "--backend", "onnxruntime", *argv]) == 2
    err = capsys.readouterr().err
    assert named in err and "not supported with --backend onnxruntime" in err


def test_an_integer_input_without_a_range_is_named(tmp_path):
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [4])
    graph = helper.make_graph([helper.make_node("Neg", ["ids"], ["y"], name="neg")], "g", [ids],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, [4])])
    path = tmp_path / "ids.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(Exception, match="integer input 'ids'.*--input-range ids=LO:HI"):
        run_onnx_file_ort(path, options=QUICK)
