"""Linear/Gemm + bias + activation fusion, in two steps:

1. bias: MatMul(x, W) with W a 2-D initializer (or a Linear without bias,
   which is how the ONNX importer writes MatMul by a constant), read only by
   an Add of an initializer b of W's width, (N,) or (1, ..., 1, N) as
   exporters also write it (either operand order, Add(t, b) or Add(b, t))
   -> Linear(x, W, b), a (1, N) bias stored again as (N,);
2. activation: a Linear read only by a Relu, Gelu, Sigmoid or Tanh ->
   FusedLinear(x, W, b, activation=...), the activation applied in place.

So MatMul + Add + Relu, Linear + Relu and Linear + Add all end up as one
node; so does an imported Gemm + Relu (the importer makes Gemm a Linear).
The fused node is named after its parts ("fc1+relu1") and covers them; a
MatMul and Add named "<layer>/matmul" and "<layer>/bias" (our ONNX export of
a Linear on a 3-D input) fuse back under the layer's name, so an imported
model's layers are named as the zoo model's. The swallowed intermediate must have no other reader and not be a graph
output."""
from __future__ import annotations

import numpy as np

from engine.ir import Graph, Node, infer_specs
from engine.ops.fused import ACTIVATIONS
from engine.passes.rewrite import Rewrite, consumers, fused_name, rebuild, sole_reader

NAME = "linear_activation"


def _bias_operand(graph: Graph, add: Node, t: str, width: int, rank: int) -> str | None:
    """The bias `add` adds to `t` (rank `rank`), if the other operand is one."""
    if add.op != "Add" or len(add.inputs) != 2 or add.inputs[0] == add.inputs[1]:
        return None
    other = add.inputs[1] if add.inputs[0] == t else add.inputs[0]
    b = graph.initializers.get(other)
    if b is None or not 1 <= b.ndim <= rank or b.shape[-1] != width or b.size != width:
        return None
    return other if b.dtype.name == "float32" else None


def _bias_name(taken: set[str], matmul: Node, add: Node) -> str:
    """'<layer>' for '<layer>/matmul' + '<layer>/bias' if no node has that name yet, else 'matmul+bias'."""
    layer, _, _ = matmul.name.rpartition("/")
    name = layer if layer and add.name.rpartition("/")[0] == layer and layer not in taken else \
        fused_name(matmul.name, add.name)
    taken.add(name)
    return name


def _fuse(graph: Graph, merged: dict[str, tuple[str, ...]], pick) -> Graph:
    """One step: `pick(node, reader) -> new node or None` for each node with a sole reader."""
    readers = consumers(graph)
    replace: dict[str, Node] = {}  # old node name -> its replacement (None: gone)
    gone: set[str] = set()
    for node in graph.nodes:
        if node.name in gone or node.name in replace or len(node.outputs) != 1:
            continue
        reader = sole_reader(graph, readers, node.outputs[0])
        if reader is None or reader.name in replace:
            continue
        new = pick(node, reader)
        if new is None:
            continue
        # the fused node sits where the reader was: every input is ready by then
        replace[reader.name] = new
        gone.add(node.name)
        merged[new.name] = (*merged.pop(node.name, (node.name,)), *merged.pop(reader.name, (reader.name,)))
    if not replace:
        return graph
    nodes = [replace.get(n.name, n) for n in graph.nodes if n.name not in gone]
    return rebuild(graph, nodes)


def apply(graph: Graph) -> Rewrite:
    specs = infer_specs(graph)
    merged: dict[str, tuple[str, ...]] = {}
    flat_biases: dict[str, np.ndarray] = {}  # (1, N) biases stored again as (N,)
    taken = {n.name for n in graph.nodes}

    def bias(node: Node, add: Node) -> Node | None:
        if node.op == "MatMul":
            w = graph.initializers.get(node.inputs[1])
            if w is None or w.ndim != 2 or specs[node.inputs[0]].dtype != "float32":
                return None
        elif node.op != "Linear" or len(node.inputs) != 2:
            return None
        width = specs[node.inputs[1]].shape[-1]
        b = _bias_operand(graph, add, node.outputs[0], width, len(specs[node.outputs[0]].shape))
        if b is None or specs[add.outputs[0]].shape != specs[node.outputs[0]].shape:
            return None
        if graph.initializers[b].ndim > 1:
            flat = f"{b}.flat"
            while flat in specs:
                flat += "_"
            flat_biases[flat] = graph.initializers[b].reshape(width)
            b = flat
        return Node(_bias_name(taken, node, add), "Linear", (*node.inputs[:2], b), add.outputs)

    def activation(node: Node, act: Node) -> Node | None:
        if node.op != "Linear" or act.op not in ACTIVATIONS:
            return None
        attrs = {"activation": act.op}
        if act.op == "Gelu":
            attrs["approximate"] = act.attrs.get("approximate", "none")
        return Node(fused_name(node.name, act.name), "FusedLinear", node.inputs, act.outputs, attrs)

    step1 = _fuse(graph, merged, bias)
    if flat_biases:
        used = {t for n in step1.nodes for t in n.inputs}
        inits = {k: v for k, v in step1.initializers.items() if k in used or f"{k}.flat" not in flat_biases}
        step1 = rebuild(step1, step1.nodes, {**inits, **flat_biases})
    step2 = _fuse(step1, merged, activation)
    if step2 is graph:
        return Rewrite(graph, {})
    return Rewrite(step2, merged)
