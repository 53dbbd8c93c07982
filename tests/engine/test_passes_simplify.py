"""constant_folding, dead_nodes, cse and transpose_reshape on small graphs."""
import numpy as np

from engine.passes import run_passes
from tests.engine.passes_graphs import graph, same_outputs, weights


def test_constant_folding_runs_a_node_of_initializers_once_and_stores_the_result():
    (w,) = weights((5, 8))
    g = graph([("wt", "Transpose", ("w",), ("w_t",), {"perm": [1, 0]}), ("mm", "MatMul", ("x", "w_t"), ("y",))],
              {"w": w})
    r = run_passes(g, "constant_folding")
    assert [n.name for n in r.graph.nodes] == ["mm"]
    np.testing.assert_array_equal(r.graph.initializers["w_t"], w.T)
    assert "w" not in r.graph.initializers  # nothing reads it any more
    assert r.lineage == {"mm": ("mm",)}
    same_outputs(g, r.graph, rtol=0, atol=0)


def test_dead_nodes_drops_what_no_output_needs_and_its_weights():
    w, v = weights((8, 5), (8, 3))
    g = graph([("fc", "Linear", ("x", "w"), ("y",)), ("unused", "Linear", ("x", "v"), ("z",)),
               ("unused2", "Relu", ("z",), ("z2",))], {"w": w, "v": v})
    r = run_passes(g, "dead_nodes")
    assert [n.name for n in r.graph.nodes] == ["fc"] and set(r.graph.initializers) == {"w"}
    same_outputs(g, r.graph, rtol=0, atol=0)


def test_cse_merges_identical_nodes_and_the_survivor_covers_both():
    (w,) = weights((8, 5))
    g = graph([("a", "Linear", ("x", "w"), ("p",)), ("b", "Linear", ("x", "w"), ("q",)),
               ("ra", "Relu", ("p",), ("pr",)), ("rb", "Relu", ("q",), ("qr",)),
               ("sum", "Add", ("pr", "qr"), ("y",))], {"w": w})
    r = run_passes(g, "cse")
    assert [n.name for n in r.graph.nodes] == ["a", "ra", "sum"]
    assert r.graph.node("sum").inputs == ("pr", "pr")
    assert r.lineage["a"] == ("a", "b") and r.lineage["ra"] == ("ra", "rb")
    same_outputs(g, r.graph, rtol=0, atol=0)


def test_cse_keeps_nodes_whose_attributes_differ():
    g = graph([("s1", "Softmax", ("x",), ("p",), {"axis": 0}), ("s2", "Softmax", ("x",), ("q",), {"axis": 1}),
               ("sum", "Add", ("p", "q"), ("y",))], {})
    assert run_passes(g, "cse").graph is g


def test_an_inverse_transpose_pair_cancels():
    g = graph([("t1", "Transpose", ("x",), ("a",), {"perm": [1, 0]}),
               ("t2", "Transpose", ("a",), ("b",), {"perm": [1, 0]}), ("act", "Relu", ("b",), ("y",))], {})
    r = run_passes(g, "transpose_reshape")
    assert [(n.name, n.inputs) for n in r.graph.nodes] == [("act", ("x",))]
    same_outputs(g, r.graph, rtol=0, atol=0)


def test_a_rank_4_inverse_pair_cancels_and_a_non_inverse_pair_composes():
    inputs = (("x", (2, 3, 4, 5)),)
    cancel = graph([("t1", "Transpose", ("x",), ("a",), {"perm": [0, 2, 1, 3]}),
                    ("t2", "Transpose", ("a",), ("b",), {"perm": [0, 2, 1, 3]}), ("act", "Relu", ("b",), ("y",))],
                   {}, inputs=inputs)
    assert [n.name for n in run_passes(cancel, "transpose_reshape").graph.nodes] == ["act"]
    compose = graph([("t1", "Transpose", ("x",), ("a",), {"perm": [0, 2, 1, 3]}),
                     ("t2", "Transpose", ("a",), ("b",), {"perm": [0, 1, 3, 2]}), ("act", "Relu", ("b",), ("y",))],
                    {}, inputs=inputs)
    r = run_passes(compose, "transpose_reshape")
    assert [n.name for n in r.graph.nodes] == ["t1+t2", "act"] and r.lineage["t1+t2"] == ("t1", "t2")
    same_outputs(compose, r.graph, rtol=0, atol=0)


def test_a_reshape_chain_collapses_and_a_round_trip_disappears():
    g = graph([("r1", "Reshape", ("x",), ("a",), {"shape": [32]}),
               ("r2", "Reshape", ("a",), ("b",), {"shape": [2, 16]}), ("act", "Relu", ("b",), ("y",))], {})
    r = run_passes(g, "transpose_reshape")
    assert [(n.name, n.inputs, n.attrs["shape"]) for n in r.graph.nodes[:1]] == [("r1+r2", ("x",), [2, 16])]
    same_outputs(g, r.graph, rtol=0, atol=0)
    back = graph([("r1", "Reshape", ("x",), ("a",), {"shape": [32]}),
                  ("r2", "Reshape", ("a",), ("b",), {"shape": [4, 8]}), ("act", "Relu", ("b",), ("y",))], {})
    assert [n.name for n in run_passes(back, "transpose_reshape").graph.nodes] == ["act"]


def test_a_transpose_producing_a_graph_output_is_kept():
    g = graph([("t1", "Transpose", ("x",), ("a",), {"perm": [1, 0]}),
               ("t2", "Transpose", ("a",), ("y",), {"perm": [1, 0]})], {})
    assert run_passes(g, "transpose_reshape").graph is g
