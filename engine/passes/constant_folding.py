"""Constant folding: a node whose inputs are all initializers (or tensors
folded before it) is run once now and its outputs become initializers under
the same names. The folded node leaves the graph, so no layer covers it."""
from __future__ import annotations

import numpy as np

from engine.ir import Graph
from engine.ops import get_op
from engine.passes.rewrite import Rewrite, rebuild, unchanged

NAME = "constant_folding"


def apply(graph: Graph) -> Rewrite:
    constants: dict[str, np.ndarray] = dict(graph.initializers)
    kept = []
    folded = False
    for node in graph.nodes:  # topological order
        if node.inputs and all(t in constants for t in node.inputs):
            op = get_op(node.op)
            outs = op.run([constants[t] for t in node.inputs], op.resolve_attrs(node.attrs))
            # a kernel may return a view of its input (Reshape): store a copy of its own
            constants.update((t, np.array(v, copy=True)) for t, v in zip(node.outputs, outs))
            folded = True
        else:
            kept.append(node)
    if not folded:
        return unchanged(graph)
    return Rewrite(rebuild(graph, kept, constants, drop_unused_initializers=True))
