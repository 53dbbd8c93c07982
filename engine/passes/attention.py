"""Multi-head-attention fusion: the primitive spelling of self-attention
(the transformer's fused=0 form, as ONNX exporters write it)

    q/k/v: MatMul(x, W) -> Add(b) -> Reshape(B, S, H, D) -> Transpose
           (q, v: perm 0,2,1,3; k: perm 0,2,3,1, so no transpose is needed later)
    MatMul(q, k) -> Mul(1/sqrt(D)) -> Softmax(-1) -> MatMul(v)
    -> Transpose(0,2,1,3) -> Reshape(B, S, E) -> MatMul(Wo) -> Add(bo)

becomes one MultiHeadAttention node (weights and biases initializers, every
intermediate read once and no graph output; the bias Adds in either operand
order, the scale on either side of the Mul). The node is named after the
pattern's common name prefix ("l1.attn") and covers its 20 nodes. The fused
op scales Q instead of the scores, so outputs match to float32 rounding. The
scale may also sit on Q, between its bias Add and Reshape, as our ONNX
export of MultiHeadAttention writes it (so an export imports back fused)."""
from __future__ import annotations

import math
import os



from engine.ir import Graph, Node, infer_specs
from engine.passes.rewrite import Rewrite, consumers, fused_name, producers, rebuild, sole_reader, unchanged

NAME = "attention"
Q_V_PERM, K_PERM = [0, 2, 1, 3], [0, 2, 3, 1]
# a projection by a constant W; the ONNX importer writes MatMul(x, W) as a bias-less Linear
PROJECTIONS = ("MatMul", "Linear")


class _NoMatch(Exception):
    pass


def apply(graph: Graph) -> Rewrite:
    specs = infer_specs(graph)
    made, readers = producers(graph), consumers(graph)
    inits = graph.initializers

    def node_of(tensor: str, op: str, covered: list[Node]) -> Node:
        node = made.get(tensor)
        if node is None or node.op != op or sole_reader(graph, readers, tensor) is None:
            raise _NoMatch
        covered.append(node)
        return node

    def reader(node: Node, op: str | tuple[str, ...], covered: list[Node]) -> Node:
        nxt = sole_reader(graph, readers, node.outputs[0])
        if nxt is None or nxt.op not in (op if isinstance(op, tuple) else (op,)):
            raise _NoMatch
        covered.append(nxt)
        return nxt

    def const_operand(node: Node, tensor: str) -> str:
        """The other input of a binary node, which must be an initializer."""
        if len(node.inputs) != 2 or node.inputs.count(tensor) != 1:
            raise _NoMatch
        other = node.inputs[1] if node.inputs[0] == tensor else node.inputs[0]
        if other not in inits:
            raise _NoMatch
        return other

    def projection(tensor: str, perm: list[int], covered: list[Node],
                   scales: list | None = None) -> tuple[str, str, str, tuple[int, ...]]:
        """(x, W, b, split shape) of Transpose(Reshape(Add(MatMul(x, W), b))); with
        `scales`, of Transpose(Reshape(Mul(Add(...), scale))), the scale appended to it."""
        tr = node_of(tensor, "Transpose", covered)
        if list(tr.attrs.get("perm") or []) != perm:
            raise _NoMatch
        rs = node_of(tr.inputs[0], "Reshape", covered)
        pre = rs.inputs[0]
        if scales is not None:
            mul = node_of(pre, "Mul", covered)
            pre = next((t for t in mul.inputs if t in made and made[t].op == "Add"), None)
            if pre is None:
                raise _NoMatch
            scales.append(inits[const_operand(mul, pre)])
        add = node_of(pre, "Add", covered)
        mm_out = next((t for t in add.inputs if t in made and made[t].op in PROJECTIONS), None)
        if mm_out is None:
            raise _NoMatch
        b = const_operand(add, mm_out)
        mm = node_of(mm_out, made[mm_out].op, covered)
        if len(mm.inputs) != 2 or mm.inputs[1] not in inits or inits[mm.inputs[1]].ndim != 2 or inits[b].ndim != 1:
            raise _NoMatch
        return mm.inputs[0], mm.inputs[1], b, specs[rs.outputs[0]].shape

    def match(softmax: Node) -> tuple[Node, list[Node]]:
        covered = [softmax]
        if softmax.attrs.get("axis", -1) not in (-1, 3) or len(specs[softmax.inputs[0]].shape) != 4:
            raise _NoMatch
        scales: list | None = None
        if softmax.inputs[0] in made and made[softmax.inputs[0]].op == "MatMul":
            scores, scales = node_of(softmax.inputs[0], "MatMul", covered), []  # Q scaled (our ONNX export)
        else:
            mul = node_of(softmax.inputs[0], "Mul", covered)
            scores_t = next((t for t in mul.inputs if t in made and made[t].op == "MatMul"), None)
            if scores_t is None:
                raise _NoMatch
            scale = inits[const_operand(mul, scores_t)]
            scores = node_of(scores_t, "MatMul", covered)
        x, wq, bq, split = projection(scores.inputs[0], Q_V_PERM, covered, scales)
        if scales:
            (scale,) = scales
        xk, wk, bk, _ = projection(scores.inputs[1], K_PERM, covered)
        context = reader(softmax, "MatMul", covered)
        if context.inputs[0] != softmax.outputs[0]:
            raise _NoMatch
        xv, wv, bv, _ = projection(context.inputs[1], Q_V_PERM, covered)
        merge = reader(context, "Transpose", covered)
        concat = reader(merge, "Reshape", covered)
        out_mm = reader(concat, PROJECTIONS, covered)
        out_add = reader(out_mm, "Add", covered)
        if (list(merge.attrs.get("perm") or []) != Q_V_PERM or out_mm.inputs[0] != concat.outputs[0]
                or len(out_mm.inputs) != 2):
            raise _NoMatch
        wo, bo = out_mm.inputs[1], const_operand(out_add, out_mm.outputs[0])
        b_, s_, h, d = split
        e = specs[x].shape[-1] if len(specs[x].shape) == 3 else -1
        if not (x == xk == xv) or wo not in inits or e != h * d or specs[x].shape != (b_, s_, e):
            raise _NoMatch
        if scale.size != 1 or not math.isclose(float(scale.reshape(())), 1.0 / math.sqrt(d), rel_tol=1e-6):
            raise _NoMatch
        if any(inits[w].shape != (e, e) for w in (wq, wk, wv, wo)) or any(inits[b].shape != (e,)
                                                                       for b in (bq, bk, bv, bo)):
            raise _NoMatch
        if specs[out_add.outputs[0]].shape != (b_, s_, e) or specs[x].dtype != "float32":
            raise _NoMatch
        names = [n.name for n in covered]
        prefix = os.path.commonprefix(names).rstrip("./")
        name = prefix if prefix and prefix not in {n.name for n in graph.nodes} else fused_name(names[0], names[-1])
        node = Node(name, "MultiHeadAttention", (x, wq, bq, wk, bk, wv, bv, wo, bo), out_add.outputs,
                    {"num_heads": int(h)})
        return node, covered

    replace: dict[str, Node] = {}
    gone: set[str] = set()
    merged: dict[str, tuple[str, ...]] = {}
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    for softmax in graph.nodes:
        if softmax.op != "Softmax":
            continue
        try:
            node, covered = match(softmax)
        except _NoMatch:
            continue
        if gone & {n.name for n in covered}:
            continue
        last = covered[-1]  # the output Add: every input of the fused node is ready there
        replace[last.name] = node
        gone.update(n.name for n in covered if n is not last)
        merged[node.name] = tuple(sorted((n.name for n in covered), key=order.__getitem__))
    if not replace:
        return unchanged(graph)
    nodes = [replace.get(n.name, n) for n in graph.nodes if n.name not in gone]
    return Rewrite(rebuild(graph, nodes), merged)



