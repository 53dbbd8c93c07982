"""Transpose/reshape elimination:

- layout propagation: a Transpose followed, through ops that do not care
  about layout, by another Transpose is moved down onto it (the ops in
  between then work in the untransposed layout), so the pair meets and
  cancels or composes below. Layout-agnostic here: Relu, Sigmoid, Tanh,
  Gelu; Softmax (its axis is remapped); Add/Sub/Mul/Div whose other operand
  is an initializer that broadcasts into the tensor without enlarging it
  (transposed once here, at compile time). Each op on the way must be the
  only reader of what it reads and write no graph output;
- Transpose(p1) then Transpose(p2) whose composition is the identity: the
  second's readers read the first's input;
- two Transposes in a row otherwise become one (perm composed);
- Reshape then Reshape becomes one Reshape of the first's input;
- a Reshape to the shape its input already has, or a Transpose by the
  identity perm, is dropped.

No engine op takes a transposed operand (MatMul and Linear have no trans
attributes), so a Transpose feeding a MatMul is left as it is.

A node whose output is a graph output is left alone (graph outputs keep
their names). Nodes left without readers are removed. A moved Transpose and
the ops it moved past keep their names; a merged node's layer covers both
originals; a cancelled pair covers nothing (it is gone)."""
from __future__ import annotations

import numpy as np

from engine.ir import Graph, Node, TensorSpec, infer_specs
from engine.passes.rewrite import (
    Rewrite,
    consumers,
    fused_name,
    live_nodes,
    producers,
    rebuild,
    rename_inputs,
    sole_reader,
    unchanged,
)

NAME = "transpose_reshape"
UNARY = ("Relu", "Sigmoid", "Tanh", "Gelu")
BINARY = ("Add", "Sub", "Mul", "Div")


def _perm(node: Node, rank: int) -> tuple[int, ...]:
    perm = node.attrs.get("perm")
    return tuple(reversed(range(rank))) if perm is None else tuple(int(p) for p in perm)


def _in_source_layout(graph: Graph, specs: dict[str, TensorSpec], node: Node, tensor: str, src: str,
                      perm: tuple[int, ...], inits: dict[str, np.ndarray]) -> Node | None:
    """`node`, which reads `tensor` = Transpose(perm) of something, rewritten to
    read `src` (that something's layout) instead; None if it cares about layout.
    A transposed initializer it needs is added to `inits`."""
    if len(node.outputs) != 1 or node.inputs.count(tensor) != 1:
        return None
    if node.op in UNARY and len(node.inputs) == 1:
        return Node(node.name, node.op, (src,), node.outputs, node.attrs)
    if node.op == "Softmax":
        axis = int(node.attrs.get("axis", -1)) % len(perm)
        return Node(node.name, node.op, (src,), node.outputs, {**node.attrs, "axis": perm[axis]})
    if node.op not in BINARY or len(node.inputs) != 2:
        return None
    pos = node.inputs.index(tensor)
    other = node.inputs[1 - pos]
    const = graph.initializers.get(other)
    if const is None or const.ndim > len(perm) or specs[node.outputs[0]].shape != specs[tensor].shape:
        return None
    full = const.reshape((1,) * (len(perm) - const.ndim) + const.shape)
    # out axis i of the transposed tensor is source axis perm[i]: the constant goes back the same way
    moved = np.ascontiguousarray(np.transpose(full, np.argsort(perm)))
    if const.size == 1:
        name = other  # a scalar broadcasts in any layout
    else:
        name = f"{other}.{node.name}.untransposed"
        while name in graph.initializers or name in specs:
            name += "_"
        inits[name] = moved
    inputs = (src, name) if pos == 0 else (name, src)
    return Node(node.name, node.op, inputs, node.outputs, node.attrs)


def _sink_one(graph: Graph) -> Graph | None:
    """Move the first Transpose that can reach another Transpose down onto it."""
    specs = infer_specs(graph)
    readers = consumers(graph)
    for first in graph.nodes:
        if first.op != "Transpose" or first.outputs[0] in graph.outputs:
            continue
        perm = _perm(first, len(specs[first.inputs[0]].shape))
        inits: dict[str, np.ndarray] = {}
        chain: list[Node] = []
        tensor, src = first.outputs[0], first.inputs[0]
        while (nxt := sole_reader(graph, readers, tensor)) is not None:
            if nxt.op == "Transpose":
                break
            moved = _in_source_layout(graph, specs, nxt, tensor, src, perm, inits)
            if moved is None:
                nxt = None
                break
            chain.append(moved)
            tensor = src = nxt.outputs[0]
        if nxt is None or not chain or nxt.outputs[0] in graph.outputs:
            continue
        # `first` now transposes the chain's result (same shape as before: the chain keeps shapes)
        replace = {n.name: n for n in chain}
        replace[nxt.name] = Node(nxt.name, nxt.op, (first.outputs[0],), nxt.outputs, nxt.attrs)
        nodes = []
        for node in graph.nodes:
            if node.name == first.name:
                continue
            nodes.append(replace.get(node.name, node))
            if node.name == chain[-1].name:
                nodes.append(Node(first.name, "Transpose", (tensor,), first.outputs, first.attrs))
        used = {t for n in nodes for t in n.inputs}
        dropped = {t for n in chain for t in graph.node(n.name).inputs if t in graph.initializers} - used
        kept = {k: v for k, v in graph.initializers.items() if k not in dropped}
        return rebuild(graph, nodes, {**kept, **inits})
    return None


def _propagate_layout(graph: Graph) -> Graph:
    while (sunk := _sink_one(graph)) is not None:
        graph = sunk
    return graph


def apply(graph: Graph) -> Rewrite:
    original = graph
    graph = _propagate_layout(graph)
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
        return unchanged(original) if graph is original else Rewrite(graph, {})
    nodes = [replaced.get(n.outputs[0], n) if n.op in ("Transpose", "Reshape") else n for n in graph.nodes]
    nodes = live_nodes(graph, rename_inputs(nodes, renames))
    return Rewrite(rebuild(graph, nodes),
                   {k: v for k, v in merged.items() if any(n.name == k for n in nodes)})
