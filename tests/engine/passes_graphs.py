"""Small graphs and helpers shared by the pass tests."""
import numpy as np

from engine.executor import run_graph
from engine.ir import Graph, Node, TensorSpec


def graph(nodes, inits, outputs=("y",), inputs=(("x", (4, 8)),), name="g"):
    return Graph(name=name, inputs=tuple(TensorSpec(n, "float32", s) for n, s in inputs),
                 initializers=inits, nodes=tuple(Node(*n) for n in nodes), outputs=outputs)


def weights(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def feeds(g, seed=1):
    rng = np.random.default_rng(seed)
    return {s.name: rng.standard_normal(s.shape).astype(np.float32) for s in g.inputs}


def same_outputs(before, after, rtol=1e-6, atol=1e-6):
    x = feeds(before)
    a, b = run_graph(before, x), run_graph(after, x)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=rtol, atol=atol, err_msg=k)
