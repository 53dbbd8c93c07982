"""Transpose/reshape elimination:

- Transpose(p1) then Transpose(p2) whose composition is the identity: the
  second's readers read the first's input;
- two Transposes in a row otherwise become one (perm composed);
- Reshape then Reshape becomes one Reshape of the first's input;
- a Reshape to the shape its input already has, or a Transpose by the
  identity perm, is dropped.

A node whose output is a graph output is left alone (graph outputs keep
their names). Nodes left without readers are removed. A merged node's layer
covers both originals; a cancelled pair covers nothing (it is gone)."""
from __future__ import annotations

from engine.ir import Graph, Node, infer_specs
from engine.passes.rewrite import Rewrite, fused_name, live_nodes, producers, rebuild, rename_inputs, unchanged

NAME = "transpose_reshape"


def _perm(node: Node, rank: int) -> tuple[int, ...]:
    perm = node.attrs.get("perm")
    return tuple(reversed(range(rank))) if perm is None else tuple(int(p) for p in perm)


def apply(graph: Graph) -> Rewrite:
    specs = infer_specs(graph)
    made = producers(graph)
    renames: dict[str, str] = {}
    replaced: dict[str, Node] = {}
    merged: dict[str, tuple[str, ...]] = {}
    for node in graph.nodes:
        if node.op not in ("Transpose", "Reshape") or node.outputs[0] in graph.outputs:
            continue
        (src,), (out,) = node.inputs, node.outputs
        src = renames.get(src, src)
        in_shape, out_shape = specs[src].shape, specs[out].shape
        if node.op == "Transpose" and _perm(node, len(in_shape)) == tuple(range(len(in_shape))):
            renames[out] = src
            continue
        if node.op == "Reshape" and in_shape == out_shape:
            renames[out] = src
            continue
        prev = replaced.get(src) or made.get(src)
        if prev is None or prev.op != node.op:
            continue
        first_in = prev.inputs[0]
        if node.op == "Transpose":
            rank = len(in_shape)
            p1, p2 = _perm(prev, rank), _perm(node, rank)
            perm = tuple(p1[i] for i in p2)  # out[i] = x axis p1[p2[i]]
            if perm == tuple(range(rank)):
                renames[out] = first_in
                continue
            attrs = {**node.attrs, "perm": list(perm)}
        else:
            if specs[first_in].shape == out_shape:
                renames[out] = first_in
                continue
            attrs = {**node.attrs, "shape": list(out_shape)}
        name = fused_name(prev.name, node.name)
        replaced[out] = Node(name, node.op, (first_in,), node.outputs, attrs)
        merged[name] = (*merged.get(prev.name, (prev.name,)), node.name)
    if not renames and not replaced:
        return unchanged(graph)
    nodes = [replaced.get(n.outputs[0], n) if n.op in ("Transpose", "Reshape") else n for n in graph.nodes]
    nodes = live_nodes(graph, rename_inputs(nodes, renames))
    return Rewrite(rebuild(graph, nodes), {k: v for k, v in merged.items() if any(n.name == k for n in nodes)})
