import numpy as np
import pytest

from engine.ir import Graph, Node, TensorSpec
from engine.models import build_model
from engine.passes import run_passes
from engine.quant.ranges import nonnegative, nonnegative_tensors


@pytest.fixture(scope="module")
def mlp():
    return build_model("mlp", batch=4, sizes=[16, 32, 8]).graph


def test_relu_outputs_are_nonnegative_and_graph_inputs_are_not(mlp):
    assert nonnegative(mlp, "h1")
    assert not nonnegative(mlp, "x")
    assert not nonnegative(mlp, "y")  # the last Linear: may be negative and is a graph output


def test_a_tensor_read_only_by_a_relu_needs_no_negative_range(mlp):
    assert nonnegative(mlp, "fc1.out")  # fc1 -> relu1 only


def test_fused_relu_and_sigmoid_are_nonnegative_in_dlrm():
    graph = run_passes(build_model("dlrm_small").graph, ["linear_activation"]).graph
    fused = {n.outputs[0]: n for n in graph.nodes if n.op == "FusedLinear"}
    assert fused, "linear_activation should fuse DLRM's MLPs"
    for t, node in fused.items():
        assert nonnegative(graph, t) == (node.attrs["activation"] in ("Relu", "Sigmoid"))
    # the top MLP's inputs: the first reads the interaction (signed), the others a fused Relu
    top = [n for n in graph.nodes if n.name.startswith("top.fc")]
    assert not nonnegative(graph, top[0].inputs[0])
    assert all(nonnegative(graph, n.inputs[0]) for n in top[1:])


def test_dlrm_unfused_ranges():
    graph = build_model("dlrm_small").graph
    found = nonnegative_tensors(graph)
    assert {"bot.relu1.out", "bot.fc1.out", "top.sigmoid3.out"} <= found
    assert "interact.out" not in found and not any(t.startswith("emb") for t in found)


def test_max_pool_of_a_relu_stays_nonnegative_in_resnet():
    graph = build_model("resnet_small").graph
    assert nonnegative(graph, "stem.pool.out")  # Relu -> MaxPool -> Conv
    assert nonnegative(graph, "stem.bn.out")  # read only by stem.relu
    assert not nonnegative(graph, "s1.b1.bn2.out")  # read by the residual Add
    assert nonnegative(graph, "s1.b1.add.out")  # read only by relu2: clipped anyway


def test_a_tensor_with_a_non_relu_reader_keeps_its_negative_range():
    graph = Graph(
        "g", (TensorSpec("x", "float32", (2, 3)),), {"c": np.array([1.0, 0.0, 2.0], np.float32)},
        (Node("a", "Add", ("x", "c"), ("s",)), Node("r", "Relu", ("s",), ("r.out",)),
         Node("t", "Tanh", ("s",), ("t.out",)), Node("cat", "Concat", ("r.out", "c"), ("cat.out",), {"axis": 1})),
        ("r.out", "t.out", "cat.out"),
    )
    assert not nonnegative(graph, "s")  # read by a Relu and a Tanh
    assert nonnegative(graph, "c")  # an initializer with no negative entry
    assert nonnegative(graph, "cat.out")  # a Concat of non-negative tensors
    with pytest.raises(KeyError, match="has no tensor 'nope'"):
        nonnegative(graph, "nope")
