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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from engine.ir import Graph, Node, TensorSpec, infer_specs
from engine.passes.rewrite import Rewrite, consumers, fused_name, producers, rebuild, sole_reader, unchanged

NAME = "attention"
Q_V_PERM, K_PERM = [0, 2, 1, 3], [0, 2, 3, 1]
# a projection by a constant W; the ONNX importer writes MatMul(x, W) as a bias-less Linear
PROJECTIONS = ("MatMul", "Linear")


@dataclass(frozen=True)
class _Context:
    """What the matchers look up. Each matcher appends the nodes it matched to
    `covered` and returns None when the pattern is not there."""

    graph: Graph
    specs: dict[str, TensorSpec]
    made: dict[str, Node]
    readers: dict[str, list[Node]]

    @property
    def inits(self) -> Mapping[str, np.ndarray]:
        return self.graph.initializers

    def made_by(self, tensor: str, ops: tuple[str, ...]) -> bool:
        return tensor in self.made and self.made[tensor].op in ops


class _Projection(NamedTuple):
    x: str
    w: str
    b: str
    split: tuple[int, ...]  # (B, S, H, D)
    scale: np.ndarray | None  # the Q scale, when it sits between the bias Add and the Reshape


def _node_of(ctx: _Context, tensor: str, op: str, covered: list[Node]) -> Node | None:
    """The `op` node producing `tensor`, when it is the tensor's sole reader's only source."""
    node = ctx.made.get(tensor)
    if node is None or node.op != op or sole_reader(ctx.graph, ctx.readers, tensor) is None:
        return None
    covered.append(node)
    return node


def _reader(ctx: _Context, node: Node, ops: tuple[str, ...], covered: list[Node]) -> Node | None:
    """The sole reader of `node`'s output, when it is one of `ops`."""
    nxt = sole_reader(ctx.graph, ctx.readers, node.outputs[0])
    if nxt is None or nxt.op not in ops:
        return None
    covered.append(nxt)
    return nxt


def _const_operand(ctx: _Context, node: Node, tensor: str) -> str | None:
    """The other input of a binary node, when it is an initializer."""
    if len(node.inputs) != 2 or node.inputs.count(tensor) != 1:
        return None
    other = node.inputs[1] if node.inputs[0] == tensor else node.inputs[0]
    return other if other in ctx.inits else None


def _projection(ctx: _Context, tensor: str, perm: list[int], covered: list[Node],
                scaled: bool = False) -> _Projection | None:
    """Transpose(Reshape(Add(MatMul(x, W), b))); when `scaled`,
    Transpose(Reshape(Mul(Add(...), scale)))."""
    tr = _node_of(ctx, tensor, "Transpose", covered)
    if tr is None or list(tr.attrs.get("perm") or []) != perm:
        return None
    rs = _node_of(ctx, tr.inputs[0], "Reshape", covered)
    if rs is None:
        return None
    pre, scale = rs.inputs[0], None
    if scaled:
        mul = _node_of(ctx, pre, "Mul", covered)
        pre = next((t for t in mul.inputs if ctx.made_by(t, ("Add",))), None) if mul else None
        scale_name = _const_operand(ctx, mul, pre) if pre is not None else None
        if scale_name is None:
            return None
        scale = ctx.inits[scale_name]
    add = _node_of(ctx, pre, "Add", covered)
    mm_out = next((t for t in add.inputs if ctx.made_by(t, PROJECTIONS)), None) if add else None
    b = _const_operand(ctx, add, mm_out) if mm_out is not None else None
    if b is None:
        return None
    mm = _node_of(ctx, mm_out, ctx.made[mm_out].op, covered)
    if mm is None or len(mm.inputs) != 2 or mm.inputs[1] not in ctx.inits:
        return None
    if ctx.inits[mm.inputs[1]].ndim != 2 or ctx.inits[b].ndim != 1:
        return None
    return _Projection(mm.inputs[0], mm.inputs[1], b, ctx.specs[rs.outputs[0]].shape, scale)


def _scores(ctx: _Context, softmax: Node, covered: list[Node]) -> tuple[Node, np.ndarray | None] | None:
    """The scores MatMul(q, k) the softmax reads, through Mul(scale) or, when
    Q carries the scale (our ONNX export), directly; and the Mul's scale."""
    if softmax.attrs.get("axis", -1) not in (-1, 3) or len(ctx.specs[softmax.inputs[0]].shape) != 4:
        return None
    if ctx.made_by(softmax.inputs[0], ("MatMul",)):
        scores = _node_of(ctx, softmax.inputs[0], "MatMul", covered)
        return (scores, None) if scores else None
    mul = _node_of(ctx, softmax.inputs[0], "Mul", covered)
    scores_t = next((t for t in mul.inputs if ctx.made_by(t, ("MatMul",))), None) if mul else None
    scale_name = _const_operand(ctx, mul, scores_t) if scores_t is not None else None
    if scale_name is None:
        return None
    scores = _node_of(ctx, scores_t, "MatMul", covered)
    return (scores, ctx.inits[scale_name]) if scores else None


def _output(ctx: _Context, merge: Node, covered: list[Node]) -> tuple[str, str, Node] | None:
    """(Wo, bo, the output Add) of Add(MatMul(Reshape(merge), Wo), bo), merge being Transpose(0,2,1,3)."""
    concat = _reader(ctx, merge, ("Reshape",), covered)
    out_mm = _reader(ctx, concat, PROJECTIONS, covered) if concat else None
    out_add = _reader(ctx, out_mm, ("Add",), covered) if out_mm else None
    if out_add is None or list(merge.attrs.get("perm") or []) != Q_V_PERM:
        return None
    if out_mm.inputs[0] != concat.outputs[0] or len(out_mm.inputs) != 2:
        return None
    bo = _const_operand(ctx, out_add, out_mm.outputs[0])
    return (out_mm.inputs[1], bo, out_add) if bo is not None else None


def _shapes_fit(ctx: _Context, q: _Projection, k: _Projection, v: _Projection, wo: str, bo: str,
                out_add: Node, scale: np.ndarray) -> bool:
    """One input x of shape (B, S, E = H * D), float32; every weight (E, E),
    every bias (E,); the scale 1/sqrt(D); the output (B, S, E)."""
    b_, s_, h, d = q.split
    x_shape = ctx.specs[q.x].shape
    e = x_shape[-1] if len(x_shape) == 3 else -1
    if not (q.x == k.x == v.x) or wo not in ctx.inits or e != h * d or x_shape != (b_, s_, e):
        return False
    if scale.size != 1 or not math.isclose(float(scale.reshape(())), 1.0 / math.sqrt(d), rel_tol=1e-6):
        return False
    if any(ctx.inits[w].shape != (e, e) for w in (q.w, k.w, v.w, wo)):
        return False
    if any(ctx.inits[b].shape != (e,) for b in (q.b, k.b, v.b, bo)):
        return False
    return ctx.specs[out_add.outputs[0]].shape == (b_, s_, e) and ctx.specs[q.x].dtype == "float32"


def _match(ctx: _Context, softmax: Node) -> tuple[Node, list[Node]] | None:
    """The MultiHeadAttention node around `softmax` and the nodes it covers
    (the softmax first, the output Add last), or None."""
    covered = [softmax]
    found = _scores(ctx, softmax, covered)
    if found is None:
        return None
    scores, scale = found
    q = _projection(ctx, scores.inputs[0], Q_V_PERM, covered, scaled=scale is None)
    k = _projection(ctx, scores.inputs[1], K_PERM, covered) if q else None
    context = _reader(ctx, softmax, ("MatMul",), covered) if k else None
    if context is None or context.inputs[0] != softmax.outputs[0]:
        return None
    v = _projection(ctx, context.inputs[1], Q_V_PERM, covered)
    merge = _reader(ctx, context, ("Transpose",), covered) if v else None
    out = _output(ctx, merge, covered) if merge else None
    if out is None:
        return None
    wo, bo, out_add = out
    scale = q.scale if scale is None else scale
    if not _shapes_fit(ctx, q, k, v, wo, bo, out_add, scale):
        return None
    names = [n.name for n in covered]
    prefix = os.path.commonprefix(names).rstrip("./")
    name = prefix if prefix and prefix not in {n.name for n in ctx.graph.nodes} else fused_name(names[0], names[-1])
    node = Node(name, "MultiHeadAttention", (q.x, q.w, q.b, k.w, k.b, v.w, v.b, wo, bo), out_add.outputs,
                {"num_heads": int(q.split[2])})
    return node, covered


def apply(graph: Graph) -> Rewrite:
    ctx = _Context(graph, infer_specs(graph), producers(graph), consumers(graph))
    replace: dict[str, Node] = {}
    gone: set[str] = set()
    merged: dict[str, tuple[str, ...]] = {}
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    for softmax in graph.nodes:
        found = _match(ctx, softmax) if softmax.op == "Softmax" else None
        if found is None:
            continue
        node, covered = found
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
