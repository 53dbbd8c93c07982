"""Linear/Gemm + bias + activation fusion, in two steps:

1. bias: MatMul(x, W) with W a 2-D initializer (or a Linear without bias),
   read only by an Add of a 1-D initializer b of W's width (either operand
   order, Add(t, b) or Add(b, t)) -> Linear(x, W, b);
2. activation: a Linear read only by a Relu, Gelu, Sigmoid or Tanh ->
   FusedLinear(x, W, b, activation=...), the activation applied in place.

So MatMul + Add + Relu, Linear + Relu and Linear + Add all end up as one
node. The fused node is named after its parts ("fc1+relu1") and covers them.
The swallowed intermediate must have no other reader and not be a graph
output."""
from __future__ import annotations

from engine.ir import Graph, Node, infer_specs
from engine.ops.fused import ACTIVATIONS
from engine.passes.rewrite import Rewrite, consumers, fused_name, rebuild, sole_reader

NAME = "linear_activation"


def _bias_operand(graph: Graph, add: Node, t: str, width: int) -> str | None:
    if add.op != "Add" or len(add.inputs) != 2 or add.inputs[0] == add.inputs[1]:
        return None
    other = add.inputs[1] if add.inputs[0] == t else add.inputs[0]
    b = graph.initializers.get(other)
    if b is None or b.shape != (width,) or b.dtype.name != "float32":
        return None
    return other


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

    def bias(node: Node, add: Node) -> Node | None:
        if node.op == "MatMul":
            w = graph.initializers.get(node.inputs[1])
            if w is None or w.ndim != 2 or specs[node.inputs[0]].dtype != "float32":
                return None
        elif node.op != "Linear" or len(node.inputs) != 2:
            return None
        width = specs[node.inputs[1]].shape[-1]
        b = _bias_operand(graph, add, node.outputs[0], width)
        if b is None or specs[add.outputs[0]].shape != specs[node.outputs[0]].shape:
            return None
        return Node(fused_name(node.name, add.name), "Linear", (*node.inputs[:2], b), add.outputs)

    def activation(node: Node, act: Node) -> Node | None:
        if node.op != "Linear" or act.op not in ACTIVATIONS:
            return None
        attrs = {"activation": act.op}
        if act.op == "Gelu":
            attrs["approximate"] = act.attrs.get("approximate", "none")
        return Node(fused_name(node.name, act.name), "FusedLinear", node.inputs, act.outputs, attrs)

    step1 = _fuse(graph, merged, bias)
    step2 = _fuse(step1, merged, activation)
    if step2 is graph:
        return Rewrite(graph, {})
    return Rewrite(step2, merged)
