"""Conv + Relu fusion: a Conv read only by a Relu becomes one FusedConv
(activation "Relu", applied in place on the Conv's output). Run after
conv_batchnorm, so Conv + BatchNormalization + Relu ends as one node."""
from __future__ import annotations

from engine.ir import Graph, Node
from engine.passes.rewrite import Rewrite, consumers, fused_name, rebuild, sole_reader, unchanged

NAME = "conv_relu"


def apply(graph: Graph) -> Rewrite:
    readers = consumers(graph)
    replace: dict[str, Node] = {}
    gone: set[str] = set()
    merged: dict[str, tuple[str, ...]] = {}
    for conv in graph.nodes:
        if conv.op != "Conv":
            continue
        relu = sole_reader(graph, readers, conv.outputs[0])
        if relu is None or relu.op != "Relu":
            continue
        name = fused_name(conv.name, relu.name)
        replace[relu.name] = Node(name, "FusedConv", conv.inputs, relu.outputs, {**conv.attrs, "activation": "Relu"})
        gone.add(conv.name)
        merged[name] = (conv.name, relu.name)
    if not replace:
        return unchanged(graph)
    return Rewrite(rebuild(graph, [replace.get(n.name, n) for n in graph.nodes if n.name not in gone]), merged)
