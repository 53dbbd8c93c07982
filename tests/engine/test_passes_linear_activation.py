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
