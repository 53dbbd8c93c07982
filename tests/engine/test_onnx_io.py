"""The ONNX bridge on single-op graphs and on mlp: every exported op runs in
onnxruntime with our outputs, imported models run with theirs, and bad
files or unsupported nodes fail with the node or file named."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from engine.cli import main
from engine.executor import run_graph
from engine.ir import Graph, Node, TensorSpec
from engine.models import build_model
from engine.onnx_io import (
    OPSET,
    OnnxFileError,
    UnsupportedExport,
    UnsupportedImport,
    export_onnx,
    import_onnx,
    save_onnx,
)
from engine.onnx_io.export_graph import EXPORTERS
from engine.onnx_io.onnx_inputs import InputRangeError, synthesize_inputs
from engine.onnx_io.ort_runner import run_ort
from engine.ops import OPS
from engine.report import Report

RNG = np.random.default_rng(7)


def f32(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape, dtype=np.float32)


def one_op(op: str, inputs: dict[str, np.ndarray], weights: dict[str, np.ndarray] | None = None,
           attrs: dict | None = None, outputs: tuple[str, ...] = ("y",)) -> Graph:
    """A graph of one node reading `inputs` (graph inputs) then `weights` (initializers)."""
    weights = weights or {}
    return Graph(name=f"one_{op}", inputs=tuple(TensorSpec(n, a.dtype.name, a.shape) for n, a in inputs.items()),
                 initializers=weights, nodes=(Node(op.lower(), op, (*inputs, *weights), outputs, attrs or {}),),
                 outputs=outputs)


def bags(batch: int, rows: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    lengths = RNG.integers(0, max_len + 1, size=batch)
    lengths[0], lengths[1], lengths[-1] = max(lengths[0], 1), 0, 0  # empty bags inside and at the end
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return RNG.integers(0, rows, size=int(lengths.sum())).astype(np.int64), offsets


def mha_weights(e: int) -> dict[str, np.ndarray]:
    return {f"{k}": f32(e, e) * np.float32(e ** -0.5) if k.startswith("w") else f32(e) for k in
            ("wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo")}


def gru_weights(i: int, h: int) -> dict[str, np.ndarray]:
    return {"W": f32(i, 3 * h), "R": f32(h, 3 * h), "Wb": f32(3 * h), "Rb": f32(3 * h)}


indices, offsets = bags(6, 50, 4)
CASES = {
    "linear_2d": lambda: one_op("Linear", {"x": f32(4, 8)}, {"w": f32(8, 3), "b": f32(3)}),
    "linear_3d": lambda: one_op("Linear", {"x": f32(2, 4, 8)}, {"w": f32(8, 3), "b": f32(3)}),
    "linear_no_bias_3d": lambda: one_op("Linear", {"x": f32(2, 4, 8)}, {"w": f32(8, 3)}),
    "relu": lambda: one_op("Relu", {"x": f32(3, 5)}),
    "sigmoid": lambda: one_op("Sigmoid", {"x": f32(3, 5)}),
    "tanh": lambda: one_op("Tanh", {"x": f32(3, 5)}),
    "gelu": lambda: one_op("Gelu", {"x": f32(3, 5)}),
    "gelu_tanh": lambda: one_op("Gelu", {"x": f32(3, 5)}, attrs={"approximate": "tanh"}),
    "add_broadcast": lambda: one_op("Add", {"a": f32(3, 5)}, {"b": f32(5)}),
    "mul": lambda: one_op("Mul", {"a": f32(3, 5), "b": f32(3, 5)}),
    "sub_broadcast": lambda: one_op("Sub", {"a": f32(3, 1)}, {"b": f32(2, 1, 4)}),
    "div": lambda: one_op("Div", {"a": f32(3, 5)}, {"b": np.abs(f32(3, 5)) + 0.5}),
    "matmul_batched": lambda: one_op("MatMul", {"a": f32(2, 3, 4), "b": f32(2, 4, 5)}),
    "softmax_axis1": lambda: one_op("Softmax", {"x": f32(2, 3, 4)}, attrs={"axis": 1}),
    "concat": lambda: one_op("Concat", {"a": f32(2, 3), "b": f32(2, 5)}, attrs={"axis": 1}),
    "reshape_minus1": lambda: one_op("Reshape", {"x": f32(2, 3, 4)}, attrs={"shape": [2, -1]}),
    "transpose": lambda: one_op("Transpose", {"x": f32(2, 3, 4)}, attrs={"perm": [2, 0, 1]}),
    "slice_negative": lambda: one_op("Slice", {"x": f32(4, 6)}, attrs={"starts": [1, -4], "ends": [3, 100],
                                                                      "axes": [0, 1]}),
    "gather_rows": lambda: Graph(
        name="g", inputs=(TensorSpec("i", "int64", (2, 2)),), initializers={"table": f32(5, 3)},
        nodes=(Node("gather", "Gather", ("table", "i"), ("y",), {"axis": 0}),), outputs=("y",)),
    "embedding_bag_sum": lambda: Graph(
        name="eb", inputs=(TensorSpec("idx", "int64", indices.shape), TensorSpec("off", "int64", offsets.shape)),
        initializers={"table": f32(50, 4)},
        nodes=(Node("bag", "EmbeddingBag", ("table", "idx", "off"), ("y",), {"mode": "sum"}),), outputs=("y",)),
    "embedding_bag_mean": lambda: Graph(
        name="eb", inputs=(TensorSpec("idx", "int64", indices.shape), TensorSpec("off", "int64", offsets.shape)),
        initializers={"table": f32(50, 4)},
        nodes=(Node("bag", "EmbeddingBag", ("table", "idx", "off"), ("y",), {"mode": "mean"}),), outputs=("y",)),
    "conv_strided_grouped": lambda: one_op("Conv", {"x": f32(2, 4, 9, 9)}, {"w": f32(6, 2, 3, 3), "b": f32(6)},
                                           {"strides": [2, 2], "pads": [1, 1, 1, 1], "group": 2}),
    "maxpool": lambda: one_op("MaxPool", {"x": f32(1, 2, 7, 7)}, attrs={"kernel_shape": [3, 3], "strides": [2, 2],
                                                                        "pads": [1, 1, 1, 1]}),
    "avgpool_exclude_pad": lambda: one_op("AveragePool", {"x": f32(1, 2, 6, 6)},
                                          attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),
    "global_avgpool": lambda: one_op("GlobalAveragePool", {"x": f32(2, 3, 4, 4)}),
    "batchnorm": lambda: one_op("BatchNormalization", {"x": f32(2, 3, 4, 4)},
                                {"s": f32(3), "b": f32(3), "m": f32(3), "v": np.abs(f32(3)) + 0.5}),
    "layernorm": lambda: one_op("LayerNormalization", {"x": f32(2, 3, 8)}, {"s": f32(8), "b": f32(8)}),
    "mha": lambda: one_op("MultiHeadAttention", {"x": f32(2, 5, 8)}, mha_weights(8), {"num_heads": 2}),
    "mha_causal_mask": lambda: one_op(
        "MultiHeadAttention", {"x": f32(2, 5, 8)},
        {**mha_weights(8), "mask": np.triu(np.full((5, 5), -1e9, np.float32), 1)}, {"num_heads": 4}),
    "dot_interaction": lambda: Graph(
        name="dot", inputs=tuple(TensorSpec(n, "float32", (3, 4)) for n in ("x", "e1", "e2", "e3")),
        initializers={}, nodes=(Node("interact", "DotInteraction", ("x", "e1", "e2", "e3"), ("y",)),),
        outputs=("y",)),
    "gru": lambda: one_op("GRU", {"x": f32(3, 5, 4)}, gru_weights(4, 6), outputs=("y", "y_h")),
    "gru_lengths": lambda: Graph(
        name="g", inputs=(TensorSpec("x", "float32", (3, 5, 4)), TensorSpec("L", "int64", (3,))),
        initializers=gru_weights(4, 6),
        nodes=(Node("gru", "GRU", ("x", "W", "R", "Wb", "Rb", "L"), ("y", "y_h")),), outputs=("y", "y_h")),
    "augru_lengths": lambda: Graph(
        name="g", inputs=(TensorSpec("x", "float32", (3, 4, 2)), TensorSpec("a", "float32", (3, 4)),
                          TensorSpec("L", "int64", (3,))),
        initializers=gru_weights(2, 5),
        nodes=(Node("augru", "AUGRU", ("x", "a", "W", "R", "Wb", "Rb", "L"), ("y", "y_h")),), outputs=("y", "y_h")),
}


def inputs_for(graph: Graph) -> dict[str, np.ndarray]:
    feeds = {}
    for spec in graph.inputs:
        if spec.name == "idx":
            feeds["idx"] = indices
        elif spec.name == "off":
            feeds["off"] = offsets
        elif spec.name == "L":  # a full, an empty and a half sequence
            steps = graph.inputs[0].shape[1]
            feeds["L"] = np.array([steps, 0, steps // 2], np.int64)
        elif spec.name == "i":
            feeds["i"] = np.array([[0, 4], [2, 2]], np.int64)
        elif spec.name == "a":
            feeds["a"] = RNG.random(spec.shape, dtype=np.float32)
        else:
            feeds[spec.name] = f32(*spec.shape)
    return feeds


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_exported_op_runs_in_onnxruntime_with_our_outputs(case):
    graph = CASES[case]()
    feeds = inputs_for(graph)
    ours = run_graph(graph, feeds)
    model = export_onnx(graph)  # runs onnx.checker with full shape inference
    assert model.opset_import[0].version == OPSET
    theirs = run_ort(model, feeds)
    for name in graph.outputs:
        assert theirs[name].shape == ours[name].shape
        np.testing.assert_allclose(theirs[name], ours[name], rtol=1e-4, atol=1e-5, err_msg=f"{case}: {name}")


def test_every_registered_engine_op_has_an_exporter():
    assert sorted(set(OPS) - set(EXPORTERS)) == []


def test_a_decomposed_op_keeps_its_node_name_as_prefix():
    model = export_onnx(CASES["mha"]())
    assert all(n.name.startswith("multiheadattention/") for n in model.graph.node)
    assert {n.op_type for n in model.graph.node} >= {"MatMul", "Softmax", "Reshape", "Transpose"}


def test_gru_exports_as_one_onnx_gru_with_linear_before_reset():
    model = export_onnx(CASES["gru"]())
    (gru,) = [n for n in model.graph.node if n.op_type == "GRU"]
    attrs = {a.name: helper.get_attribute_value(a) for a in gru.attribute}
    assert attrs == {"hidden_size": 6, "linear_before_reset": 1}
    initializers = {i.name for i in model.graph.initializer}
    assert {"gru/W", "gru/R", "gru/B"} <= initializers
    assert not initializers & {"W", "R", "Wb", "Rb"}  # the engine-layout originals are dropped


def test_an_op_without_mapping_names_the_node_and_op(monkeypatch):
    graph = CASES["relu"]()
    monkeypatch.delitem(EXPORTERS, "Relu")
    with pytest.raises(UnsupportedExport, match=r"node 'relu' \(Relu\): no ONNX mapping for op 'Relu'"):
        export_onnx(graph)


def small_mlp():
    return build_model("mlp", batch=3, sizes=[16, 32, 8, 4])


def test_mlp_round_trips_through_a_file(tmp_path):
    model = small_mlp()
    path = save_onnx(model.graph, tmp_path / "sub" / "mlp.onnx")
    assert [p.name for p in path.parent.iterdir()] == ["mlp.onnx"]  # no temp file left behind
    graph = import_onnx(path)
    feeds = model.make_inputs(1)
    assert [n.op for n in graph.nodes] == [n.op for n in model.graph.nodes]
    np.testing.assert_array_equal(run_graph(graph, feeds)["y"], run_graph(model.graph, feeds)["y"])


@pytest.mark.parametrize("case", ["softmax_axis1", "concat", "transpose", "slice_negative", "reshape_minus1",
                                  "conv_strided_grouped", "maxpool", "avgpool_exclude_pad", "global_avgpool",
                                  "batchnorm", "layernorm", "gelu_tanh", "mul", "sub_broadcast", "div",
                                  "matmul_batched", "gru", "gather_rows", "add_broadcast", "sigmoid", "tanh"])
def test_exported_single_ops_import_back_to_the_same_outputs(case):
    graph = CASES[case]()
    feeds = inputs_for(graph)
    back = import_onnx(export_onnx(graph))
    ours, again = run_graph(graph, feeds), run_graph(back, feeds)
    for name in graph.outputs:
        np.testing.assert_allclose(again[name], ours[name], rtol=1e-5, atol=1e-6)


def gemm_model(attrs: dict, c: np.ndarray | None, b: np.ndarray, x_shape=(3, 4)) -> onnx.ModelProto:
    inits = [numpy_helper.from_array(b, "B")] + ([numpy_helper.from_array(c, "C")] if c is not None else [])
    node = helper.make_node("Gemm", ["x", "B"] + (["C"] if c is not None else []), ["y"], name="fc", **attrs)
    graph = helper.make_graph([node], "gemm", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, (3, 5))], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("attrs,c", [({}, None), ({"transB": 1}, f32(5)), ({"alpha": 0.5, "beta": 2.0}, f32(1, 5)),
                                     ({"transB": 1, "beta": -1.0}, np.float32(0.25).reshape(()))])
def test_gemm_imports_with_trans_b_alpha_and_beta_folded_into_linear(attrs, c):
    b = f32(5, 4) if attrs.get("transB") else f32(4, 5)
    model = gemm_model(attrs, c, b)
    x = f32(3, 4)
    graph = import_onnx(model)
    assert [n.op for n in graph.nodes] == ["Linear"]
    np.testing.assert_allclose(run_graph(graph, {"x": x})["y"], run_ort(model, {"x": x})["y"], rtol=1e-5, atol=1e-6)


def test_gemm_with_trans_a_is_refused_naming_the_node():
    with pytest.raises(UnsupportedImport, match=r"node 'fc' \(Gemm\): attribute transA=1 is not supported"):
        import_onnx(gemm_model({"transA": 1}, None, f32(3, 5), x_shape=(3, 4)))


def test_an_unsupported_op_is_refused_naming_op_type_and_node():
    node = helper.make_node("Erf", ["x"], ["y"], name="mystery")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, (2,))],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, (2,))])
    with pytest.raises(UnsupportedImport, match=r"node 'mystery' \(Erf\): op type 'Erf' is not supported"):
        import_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_an_unsupported_attribute_is_refused_naming_it():
    node = helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2, 2], ceil_mode=1)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, (1, 1, 4, 4))],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, (1, 1, 2, 2))])
    with pytest.raises(UnsupportedImport, match=r"node 'pool' \(MaxPool\): attribute ceil_mode=1"):
        import_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_a_symbolic_batch_needs_batch_and_then_imports(tmp_path):
    model = export_onnx(small_mlp().graph)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    with pytest.raises(UnsupportedImport, match=r"graph input 'x' dimension 0 is 'N'.*pass batch=N"):
        import_onnx(model)
    assert import_onnx(model, batch=5).inputs[0].shape == (5, 16)


def test_constant_nodes_feed_reshape_and_zero_copies_a_dimension():
    shape = helper.make_node("Constant", [], ["shape"], name="c", value=numpy_helper.from_array(
        np.array([0, -1], np.int64)))
    reshape = helper.make_node("Reshape", ["x", "shape"], ["y"], name="flat")
    graph = helper.make_graph([shape, reshape], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, (2, 3, 4))],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, (2, 12))])
    imported = import_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert imported.nodes[0].attrs == {"shape": [2, -1]} and not imported.initializers
    x = f32(2, 3, 4)
    np.testing.assert_array_equal(run_graph(imported, {"x": x})["y"], x.reshape(2, 12))


def test_a_file_that_is_not_protobuf_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\xff\xfe this is not an onnx model \x00\x01")
    with pytest.raises(OnnxFileError, match=rf"{path}: not an ONNX model"):
        import_onnx(path)


def test_a_truncated_file_is_refused_naming_the_file(tmp_path):
    data = export_onnx(small_mlp().graph).SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OnnxFileError, match=rf"{path}: "):
        import_onnx(path)


def test_a_model_failing_the_checker_is_refused_naming_the_file(tmp_path):
    model = export_onnx(small_mlp().graph)
    model.graph.node[0].input[1] = "no_such_tensor"
    path = tmp_path / "broken.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(OnnxFileError, match=rf"{path}: fails the ONNX checker"):
        import_onnx(path)


def test_a_missing_file_is_refused_naming_it(tmp_path):
    with pytest.raises(OnnxFileError, match=r"nope\.onnx: cannot read"):
        import_onnx(tmp_path / "nope.onnx")


# --- CLI ---------------------------------------------------------------------------------------------

TINY = ["--batch", "3", "--param", "sizes=16,32,4"]


def test_export_onnx_writes_a_model_onnxruntime_runs(tmp_path, capsys):
    path = tmp_path / "mlp.onnx"
    assert main(["export-onnx", "mlp", str(path), *TINY]) == 0
    assert f"exported to {path}" in capsys.readouterr().out
    x = f32(3, 16)
    ours = run_graph(build_model("mlp", batch=3, sizes=[16, 32, 4]).graph, {"x": x})["y"]
    np.testing.assert_allclose(run_ort(onnx.load(path), {"x": x})["y"], ours, rtol=1e-4, atol=1e-5)


def test_run_onnx_profiles_the_imported_model_and_writes_a_report(probes, tmp_path, capsys):
    path = tmp_path / "mlp.onnx"
    assert main(["export-onnx", "mlp", str(path), *TINY]) == 0
    report_path = tmp_path / "run.json"
    assert main(["run", "--onnx", str(path), "--warmup", "0", "--repeats", "2", "--json", str(report_path)]) == 0
    out = capsys.readouterr().out
    assert "fc1" in out and "relu1" in out
    report = Report.from_dict(json.loads(report_path.read_text()))
    assert report.benchmark.model == "onnx:mlp" and report.benchmark.params == {"file": "mlp.onnx"}
    assert [ly.op for ly in report.layers] == ["Linear", "Relu", "Linear"]


def test_run_needs_exactly_one_of_model_and_onnx(tmp_path, capsys):
    assert main(["run", "mlp", "--onnx", str(tmp_path / "x.onnx")]) == 2
    assert "either a model name" in capsys.readouterr().err
    assert main(["run"]) == 2
    assert "needs a model name" in capsys.readouterr().err


def test_run_onnx_on_a_bad_file_exits_2_naming_it(tmp_path, capsys):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"garbage")
    assert main(["run", "--onnx", str(path)]) == 2
    assert f"{path}: " in capsys.readouterr().err


def gather_graph() -> Graph:
    return Graph(name="lookup", inputs=(TensorSpec("ids", "int64", (64,)), TensorSpec("other", "int64", (4,))),
                 initializers={"table": f32(10, 3)},
                 nodes=(Node("gather", "Gather", ("table", "ids"), ("rows",), {"axis": 0}),
                        Node("gather2", "Gather", ("table", "other"), ("y",), {"axis": 0})),
                 outputs=("rows", "y"))


def test_integer_inputs_take_their_range_from_the_gather_they_index():
    feeds = synthesize_inputs(gather_graph(), seed=3)
    assert feeds["ids"].dtype == np.int64 and feeds["ids"].min() >= 0 and feeds["ids"].max() < 10
    assert len(np.unique(feeds["ids"])) > 5
    narrowed = synthesize_inputs(gather_graph(), seed=3, int_ranges={"ids": (2, 4)})
    assert set(np.unique(narrowed["ids"])) <= {2, 3}


def test_an_integer_input_without_a_bound_is_refused_naming_it():
    graph = Graph(name="g", inputs=(TensorSpec("n", "int64", (2,)),), initializers={},
                  nodes=(Node("r", "Reshape", ("n",), ("y",), {"shape": [2, 1]}),), outputs=("y",))
    with pytest.raises(InputRangeError, match=r"integer input n: int64\(2,\).*--input-range n=LO:HI"):
        synthesize_inputs(graph)
    with pytest.raises(InputRangeError, match=r"names 'm', not input"):
        synthesize_inputs(graph, int_ranges={"m": (0, 1)})


def test_run_onnx_takes_input_ranges(probes, tmp_path, capsys):
    path = save_onnx(gather_graph(), tmp_path / "lookup.onnx")
    assert main(["run", "--onnx", str(path), "--input-range", "ids=0:3", "--warmup", "0", "--repeats", "1"]) == 0
    assert "gather2" in capsys.readouterr().out
    assert main(["run", "--onnx", str(path), "--input-range", "ids=5"]) == 2
    assert "NAME=LO:HI" in capsys.readouterr().err


def test_compare_ort_prints_both_medians_with_their_spread_the_ratio_and_the_load(capsys):
    assert main(["compare-ort", "mlp", *TINY, "--threads", "1", "--repeats", "2", "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    assert "threads 1, repeats 2, each runtime in its own process" in out
    assert "ours         median" in out and "onnxruntime  median" in out and "ours/ORT" in out
    assert out.count("(p25-p75 ") == 2 and "load average (1 min)" in out


def test_compare_ort_with_bad_params_exits_2_naming_them(capsys):
    assert main(["compare-ort", "mlp", "--param", "sizes=3"]) == 2
    assert "need at least 2 sizes" in capsys.readouterr().err
    assert main(["compare-ort", "mlp", "--param", "nosuch=1"]) == 2
    assert "nosuch" in capsys.readouterr().err


def test_run_onnx_batch_fills_a_symbolic_batch_and_is_refused_for_a_fixed_one(probes, tmp_path, capsys):
    model = export_onnx(small_mlp().graph)
    fixed = tmp_path / "fixed.onnx"
    fixed.write_bytes(model.SerializeToString())
    assert main(["run", "--onnx", str(fixed), "--batch", "8"]) == 2
    assert "every input has a fixed batch dimension" in capsys.readouterr().err
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    dynamic = tmp_path / "dynamic.onnx"
    dynamic.write_bytes(model.SerializeToString())
    report = tmp_path / "r.json"
    assert main(["run", "--onnx", str(dynamic), "--batch", "8", "--warmup", "0", "--repeats", "1",
                 "--json", str(report)]) == 0
    assert json.loads(report.read_text())["benchmark"]["params"] == {"file": "dynamic.onnx", "batch": 8}


def grouped_bags(mode: str, dims: tuple[int, ...]) -> tuple[Graph, dict[str, np.ndarray]]:
    """GroupedEmbeddingBag over tables of different row counts, each with its own
    ragged bags (empty ones inside and at the end; one table's ids all in its last bag)."""
    rows = (50, 7, 30)[:len(dims)]
    feeds, inputs, weights, names = {}, [], {}, []
    for k, (r, d) in enumerate(zip(rows, dims)):
        idx, off = bags(6, r, 4) if k != 1 else (np.array([3, 6], np.int64), np.zeros(6, np.int64))
        feeds[f"idx{k}"], feeds[f"off{k}"] = idx, off
        inputs += [TensorSpec(f"idx{k}", "int64", idx.shape), TensorSpec(f"off{k}", "int64", off.shape)]
        weights[f"table{k}"] = f32(r, d)
        names += [f"table{k}", f"idx{k}", f"off{k}"]
    outputs = tuple(f"y{k}" for k in range(len(dims)))
    graph = Graph(name="grouped", inputs=tuple(inputs), initializers=weights,
                  nodes=(Node("bags", "GroupedEmbeddingBag", tuple(names), outputs, {"mode": mode}),), outputs=outputs)
    return graph, feeds


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("dims", [(4, 4, 4), (4, 3, 4)], ids=["one_width", "two_widths"])
def test_grouped_embedding_bags_export_as_one_lookup_when_the_tables_stack(mode, dims):
    graph, feeds = grouped_bags(mode, dims)
    model = export_onnx(graph)
    ours, theirs = run_graph(graph, feeds), run_ort(model, feeds)
    for name in graph.outputs:
        assert theirs[name].shape == ours[name].shape
        np.testing.assert_allclose(theirs[name], ours[name], rtol=1e-5, atol=1e-6, err_msg=name)
    gathers = [n for n in model.graph.node if n.op_type == "Gather" and n.name.endswith("/rows")]
    if len(set(dims)) == 1:  # one table of all rows, one Gather, one ScatterND, one Split
        assert [n.name for n in gathers] == ["bags/rows"]
        assert [n.op_type for n in model.graph.node].count("ScatterND") == 1
        assert model.graph.node[-1].op_type == "Split"
    else:  # tables of different widths cannot stack: one lookup each
        assert len(gathers) == len(dims)
