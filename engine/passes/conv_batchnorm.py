"""Conv + BatchNormalization folding: a Conv with an initializer weight read
only by an inference BatchNormalization whose scale, bias, mean and var are
initializers becomes one Conv with
    W' = W * m[:, None, None, None],  b' = (b - mean) * m + bias,
    m = scale / sqrt(var + epsilon)
(b = 0 for a Conv without bias), computed in float64 and stored float32.
Outputs match the unfolded pair to float32 rounding, not bit for bit."""
from __future__ import annotations

import numpy as np

from engine.ir import Graph, Node
from engine.passes.rewrite import Rewrite, consumers, fused_name, rebuild, sole_reader, unchanged

NAME = "conv_batchnorm"


def apply(graph: Graph) -> Rewrite:
    inits = dict(graph.initializers)
    readers = consumers(graph)
    replace: dict[str, Node] = {}
    gone: set[str] = set()
    merged: dict[str, tuple[str, ...]] = {}
    for conv in graph.nodes:
        if conv.op != "Conv" or conv.inputs[1] not in inits:
            continue
        bn = sole_reader(graph, readers, conv.outputs[0])
        if bn is None or bn.op != "BatchNormalization" or not all(t in inits for t in bn.inputs[1:]):
            continue
        w = inits[conv.inputs[1]].astype(np.float64)
        scale, shift, mean, var = (inits[t].astype(np.float64) for t in bn.inputs[1:])
        m = scale / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
        b = inits[conv.inputs[2]].astype(np.float64) if len(conv.inputs) > 2 else np.zeros(w.shape[0])
        name = fused_name(conv.name, bn.name)
        inits[f"{name}.weight"] = (w * m[:, None, None, None]).astype(np.float32)
        inits[f"{name}.bias"] = ((b - mean) * m + shift).astype(np.float32)
        replace[bn.name] = Node(name, "Conv", (conv.inputs[0], f"{name}.weight", f"{name}.bias"),
                                bn.outputs, conv.attrs)
        gone.add(conv.name)
        merged[name] = (conv.name, bn.name)
    if not replace:
        return unchanged(graph)
    nodes = [replace.get(n.name, n) for n in graph.nodes if n.name not in gone]
    return Rewrite(rebuild(graph, nodes, inits, drop_unused_initializers=True), merged)
