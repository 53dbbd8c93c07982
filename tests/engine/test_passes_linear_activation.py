import pytest

from engine.passes import run_passes
from tests.engine.passes_graphs import graph, same_outputs, weights


def _matmul_add_act(add_inputs, act="Relu", attrs=None):
    w, b = weights((8, 5), (5,))
    return graph([("mm", "MatMul", ("x", "w"), ("t",)), ("add", "Add", add_inputs, ("u",)),
                  ("act", act, ("u",), ("y",), attrs or {})], {"w": w, "b": b})


@pytest.mark.parametrize("add_inputs", [("t", "b"), ("b", "t")], ids=["bias-second", "bias-first"])
def test_it_fuses_matmul_add_relu_in_either_add_order_into_one_node(add_inputs):
    g = _matmul_add_act(add_inputs)
    r = run_passes(g, ["linear_activation"])
    (node,) = r.graph.nodes
    assert (node.name, node.op, node.inputs, node.attrs["activation"]) == ("mm+add+act", "FusedLinear",
                                                                          ("x", "w", "b"), "Relu")
    assert r.lineage == {"mm+add+act": ("mm", "add", "act")}
    assert r.applied == ["linear_activation"]
    same_outputs(g, r.graph, rtol=0, atol=0)


@pytest.mark.parametrize("act,attrs", [("Sigmoid", {}), ("Tanh", {}), ("Gelu", {}), ("Gelu", {"approximate": "tanh"})])
def test_it_fuses_linear_with_each_activation_and_keeps_the_values(act, attrs):
    w, b = weights((8, 5), (5,))
    g = graph([("fc", "Linear", ("x", "w", "b"), ("t",)), ("act", act, ("t",), ("y",), attrs)], {"w": w, "b": b})
    r = run_passes(g, "linear_activation")
    (node,) = r.graph.nodes
    assert node.op == "FusedLinear" and node.attrs["activation"] == act
    same_outputs(g, r.graph)


def test_matmul_add_without_activation_becomes_a_linear():
    w, b = weights((8, 5), (5,))
    g = graph([("mm", "MatMul", ("x", "w"), ("t",)), ("add", "Add", ("t", "b"), ("y",))], {"w": w, "b": b})
    (node,) = run_passes(g, "linear_activation").graph.nodes
    assert (node.op, node.inputs) == ("Linear", ("x", "w", "b"))


def test_an_intermediate_with_a_second_reader_is_not_swallowed():
    w, b = weights((8, 5), (5,))
    g = graph([("fc", "Linear", ("x", "w", "b"), ("t",)), ("act", "Relu", ("t",), ("y",)),
               ("other", "Sigmoid", ("t",), ("z",))], {"w": w, "b": b}, outputs=("y", "z"))
    r = run_passes(g, "linear_activation")
    assert r.graph is g and r.noop == ["linear_activation"]


def test_an_intermediate_that_is_a_graph_output_is_not_swallowed():
    w, b = weights((8, 5), (5,))
    g = graph([("fc", "Linear", ("x", "w", "b"), ("t",)), ("act", "Relu", ("t",), ("y",))],
              {"w": w, "b": b}, outputs=("t", "y"))
    assert run_passes(g, "linear_activation").graph is g


def test_an_add_of_a_non_bias_shape_is_left_alone():
    w, b = weights((8, 5), (4, 5))  # a (4, 5) addend is not a bias
    g = graph([("mm", "MatMul", ("x", "w"), ("t",)), ("add", "Add", ("t", "b"), ("y",))], {"w": w, "b": b})
    assert run_passes(g, "linear_activation").graph is g


@pytest.mark.parametrize("bias_shape", [(1, 5), (1, 1, 5)])
@pytest.mark.parametrize("add_inputs", [("t", "b"), ("b", "t")], ids=["bias-second", "bias-first"])
def test_a_bias_written_as_1_by_n_fuses_and_is_stored_flat(bias_shape, add_inputs):
    w, b = weights((8, 5), bias_shape)
    g = graph([("mm", "MatMul", ("x", "w"), ("t",)), ("add", "Add", add_inputs, ("u",)),
               ("act", "Relu", ("u",), ("y",))], {"w": w, "b": b}, inputs=(("x", (2, 4, 8)),))
    r = run_passes(g, "linear_activation")
    (node,) = r.graph.nodes
    assert (node.op, node.inputs) == ("FusedLinear", ("x", "w", "b.flat"))
    assert r.graph.initializers["b.flat"].shape == (5,) and "b" not in r.graph.initializers
    same_outputs(g, r.graph, rtol=0, atol=0)


def test_an_n_by_1_addend_is_not_a_bias():
    w, b = weights((8, 5), (5, 1))
    g = graph([("mm", "MatMul", ("x", "w"), ("t",)), ("add", "Add", ("t", "b"), ("y",))], {"w": w, "b": b},
              inputs=(("x", (5, 8)),))
    assert run_passes(g, "linear_activation").graph is g


def test_a_linear_as_the_onnx_importer_writes_matmul_fuses_with_a_following_add_and_relu():
    w, b = weights((8, 5), (5,))
    g = graph([("mm", "Linear", ("x", "w"), ("t",)), ("add", "Add", ("b", "t"), ("u",)),
               ("act", "Relu", ("u",), ("y",))], {"w": w, "b": b})
    r = run_passes(g, "linear_activation")
    assert [(n.op, n.inputs) for n in r.graph.nodes] == [("FusedLinear", ("x", "w", "b"))]
    assert r.lineage == {"mm+add+act": ("mm", "add", "act")}
    same_outputs(g, r.graph, rtol=0, atol=0)


def test_a_layer_our_exporter_split_into_matmul_and_add_fuses_back_under_its_name():
    w, b, v, c = weights((8, 5), (5,), (5, 3), (3,))
    g = graph([("fc/matmul", "Linear", ("x", "w"), ("t",)), ("fc/bias", "Add", ("t", "b"), ("u",)),
               ("relu", "Relu", ("u",), ("r",)),
               ("head/matmul", "Linear", ("r", "v"), ("p",)), ("other/bias", "Add", ("p", "c"), ("y",))],
              {"w": w, "b": b, "v": v, "c": c})
    r = run_passes(g, "linear_activation")
    assert [n.name for n in r.graph.nodes] == ["fc+relu", "head/matmul+other/bias"]  # only a shared layer collapses
    assert r.lineage["fc+relu"] == ("fc/matmul", "fc/bias", "relu")
    same_outputs(g, r.graph, rtol=0, atol=0)
