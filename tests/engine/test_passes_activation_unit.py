"""The activation_unit pass folds DIN's attention features into the unit's
first layer (engine.passes.activation_unit, ActivationUnitLinear)."""
import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import Graph, Node, TensorSpec
from engine.models import build_model
from engine.onnx_io import export_onnx
from engine.onnx_io.ort_runner import run_ort
from engine.ops.base import ShapeError
from engine.ops.fused import ActivationUnitLinear
from engine.passes import run_passes

B, T, D, H = 3, 5, 4, 6


def unit_graph(activation: str | None = "Sigmoid", extra_reader: bool = False, bias: bool = True) -> Graph:
    """The pattern as sequence_blocks builds it, optionally with the tiled query also a graph output."""
    rng = np.random.default_rng(5)
    inits = {"zeros": np.zeros(T, dtype=np.int64), "w": rng.standard_normal((4 * D, H), dtype=np.float32)}
    nodes = [Node("tile", "Gather", ("q3", "zeros"), ("q_rep",), {"axis": 1}),
             Node("diff", "Sub", ("q_rep", "k"), ("d",)),
             Node("prod", "Mul", ("k", "q_rep"), ("p",)),
             Node("feat", "Concat", ("q_rep", "k", "d", "p"), ("f",), {"axis": 2})]
    lin_inputs = ("f", "w", "b") if bias else ("f", "w")
    if bias:
        inits["b"] = rng.standard_normal(H).astype(np.float32)
    if activation:
        nodes.append(Node("fc1", "FusedLinear", lin_inputs, ("y",), {"activation": activation}))
    else:
        nodes.append(Node("fc1", "Linear", lin_inputs, ("y",)))
    outputs = ("y", "q_rep") if extra_reader else ("y",)
    return Graph("unit", (TensorSpec("q3", "float32", (B, 1, D)), TensorSpec("k", "float32", (B, T, D))),
                 inits, tuple(nodes), outputs)


def feeds():
    rng = np.random.default_rng(6)
    return {"q3": rng.standard_normal((B, 1, D), dtype=np.float32),
            "k": rng.standard_normal((B, T, D), dtype=np.float32)}


@pytest.mark.parametrize("activation", ["Sigmoid", "Relu", None])
@pytest.mark.parametrize("bias", [True, False])
def test_the_folded_layer_computes_the_unit_to_float32_rounding(activation, bias):
    g = unit_graph(activation, bias=bias)
    result = run_passes(g, "activation_unit")
    (node,) = result.graph.nodes
    assert node.op == "ActivationUnitLinear" and node.name == "feat+fc1"
    assert result.lineage[node.name] == ("tile", "diff", "prod", "feat", "fc1")
    assert "w" not in result.graph.initializers  # the unfolded weight is gone
    before, after = run_graph(g, feeds())["y"], run_graph(result.graph, feeds())["y"]
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)


def test_it_leaves_the_graph_alone_when_a_swallowed_tensor_is_read_elsewhere():
    g = unit_graph(extra_reader=True)
    assert run_passes(g, "activation_unit").noop == ["activation_unit"]


@pytest.mark.parametrize("name", ["din", "dien"])
def test_din_and_dien_fold_their_attention_and_keep_their_outputs(name):
    model = build_model(name, batch=8, seq_len=6, rows=300, dim=8)
    result = run_passes(model.graph, "all")
    assert "activation_unit" in result.applied
    inputs = model.make_inputs(0)
    before, after = run_graph(model.graph, inputs), run_graph(result.graph, inputs)
    np.testing.assert_allclose(after["top.prob"], before["top.prob"], rtol=1e-5, atol=1e-6)
    ort = run_ort(export_onnx(result.graph), inputs)  # exported as the folded computation
    np.testing.assert_allclose(ort["top.prob"], after["top.prob"], rtol=1e-5, atol=1e-6)


def test_flops_bytes_and_threads_describe_the_folded_kernel():
    shapes = [(B, 1, D), (B, T, D), (D, H), (2 * D, H), (H,)]
    attrs = ActivationUnitLinear.resolve_attrs({"activation": "Sigmoid"})
    gemms = 2 * B * D * H + 2 * B * T * 2 * D * H
    adds = B * H + B * T * D + B * T * H  # bias, q * k, query rows onto the steps
    assert ActivationUnitLinear.flops(shapes, attrs) == gemms + adds + 4 * B * T * H
    minimum = ActivationUnitLinear.bytes(shapes, [(B, T, H)], ["float32"] * 6)
    assert ActivationUnitLinear.kernel_bytes(shapes, [(B, T, H)], ["float32"] * 6, attrs) == \
        minimum + 2 * 4 * B * T * 2 * D
    assert ActivationUnitLinear.threads(shapes, attrs, 2) == 2


def test_wrong_shapes_are_refused_naming_the_input():
    with pytest.raises(ShapeError, match="key_weight.*must be"):
        ActivationUnitLinear.infer_shape([(B, 1, D), (B, T, D), (D, H), (D, H)], {})
    with pytest.raises(ShapeError, match="query has shape"):
        ActivationUnitLinear.infer_shape([(B, 2, D), (B, T, D), (D, H), (2 * D, H)], {})
    with pytest.raises(ShapeError, match="activation"):
        ActivationUnitLinear.infer_shape([(B, 1, D), (B, T, D), (D, H), (2 * D, H)], {"activation": "Elu"})
