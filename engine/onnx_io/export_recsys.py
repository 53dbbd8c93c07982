"""Exporters for the recommendation ops.

EmbeddingBag: ONNX has no bag op and onnxruntime's CPU provider no contrib op
that fits, and the offsets are a runtime input, so the bags are rebuilt from
them in the graph, in O(n + B) work beside the gather itself:
    rows  = Gather(weight, indices)                                   (n, D)
    marks = ScatterElements([-1, 0, .., 0], offsets, ones(B), "add")  (n + 1,)
    seg   = CumSum(marks)[:n]         (the bag of each position)      (n,)
    out   = ScatterND(zeros(B, D), seg[:, None], rows, reduction="add") (B, D)
and for mode "mean" out / max(bag length, 1), with lengths = ends - offsets.
Rows are summed one by one as in the kernel (no prefix-sum differences, which
would lose precision). An empty bag stays zero. A first version computed seg
as an (n, B) compare + ReduceSum: onnxruntime spent 90% of dlrm's time there.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.ir import Node
from engine.onnx_io.export_graph import ExportContext, exporter


@exporter("EmbeddingBag")
def export_embedding_bag(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    weight, indices, _ = node.inputs
    rows = ctx.emit("Gather", [weight, indices], f"{node.name}/rows", name=f"{node.name}/rows", axis=0)
    pool_bags(ctx, node, rows, attrs["mode"])


def pool_bags(ctx: ExportContext, node: Node, rows: str, mode: str) -> None:
    """Pool `rows`, the (n, D) rows gathered for the node's indices
    (node.inputs[1]), into its bags (offsets node.inputs[2]) as node.outputs
    (of the rows' dtype); also the row-wise quantized bags' pooling."""
    n_ = node.name
    _, indices, offsets = node.inputs
    (n,), (batch,) = ctx.shape(indices), ctx.shape(offsets)
    dim, dtype = ctx.shape(node.outputs[0])[1], ctx.specs[node.outputs[0]].dtype

    def op(kind: str, inputs: list[str], tag: str, **kw: Any) -> str:
        return ctx.emit(kind, inputs, f"{n_}/{tag}", name=f"{n_}/{tag}", **kw)

    seg = op("Unsqueeze", [bag_of_position(ctx, n_, offsets, batch, n), ctx.const(f"{n_}/axis_col", [1])],
             "bag_index")  # (n, 1)
    zeros = ctx.const(f"{n_}/zeros", np.zeros((batch, dim), dtype=dtype))
    if mode == "sum":
        ctx.emit("ScatterND", [zeros, seg, rows], node.outputs, name=f"{n_}/pool", reduction="add")
        return
    sums = op("ScatterND", [zeros, seg, rows], "sums", reduction="add")
    lengths = bag_lengths(ctx, n_, offsets, batch, n)
    ctx.emit("Div", [sums, op("Unsqueeze", [lengths, ctx.const(f"{n_}/axis_last", [-1])], "lengths_col")],
             node.outputs, name=f"{n_}/mean")


def bag_of_position(ctx: ExportContext, prefix: str, starts: str, bags: int, n: int, past_end: bool = False) -> str:
    """The bag of each of n positions, (n,) int64, from the `bags` bags' sorted
    start positions `starts` (the first 0): the count of starts at or before
    the position, less one. Starts may equal n (empty trailing bags), hence
    n + 1 marks; `past_end` keeps the last one (n + 1 positions: the last bag's)."""
    def op(kind: str, inputs: list[str], tag: str, **kw: Any) -> str:
        return ctx.emit(kind, inputs, f"{prefix}/{tag}", name=f"{prefix}/{tag}", **kw)

    first = np.zeros(n + 1, np.int64)
    first[0] = -1  # the "less one", folded into the marks
    ones = ctx.const(f"{prefix}/ones", np.ones(bags, np.int64))
    marks = op("ScatterElements", [ctx.const(f"{prefix}/no_marks", first), starts, ones], "bag_starts",
               axis=0, reduction="add")
    started = op("CumSum", [marks, ctx.const(f"{prefix}/axis0_scalar", np.asarray(0, np.int64))], "bags_started")
    if past_end:
        return started
    return op("Slice", [started, ctx.const(f"{prefix}/from0", [0]), ctx.const(f"{prefix}/to_n", [n])],
              "bag_of_position")


def bag_lengths(ctx: ExportContext, prefix: str, starts: str, bags: int, n: int) -> str:
    """Each bag's length, at least 1, as float32 (bags,): the next bag's start
    (n for the last) less its own; the divisor of mode "mean"."""
    def op(kind: str, inputs: list[str], tag: str, **kw: Any) -> str:
        return ctx.emit(kind, inputs, f"{prefix}/{tag}", name=f"{prefix}/{tag}", **kw)

    nexts = op("Slice", [starts, ctx.const(f"{prefix}/from1", [1]), ctx.const(f"{prefix}/to_end", [bags]),
                         ctx.const(f"{prefix}/axis0", [0])], "next_starts")
    ends = op("Concat", [nexts, ctx.const(f"{prefix}/n", [n])], "ends", axis=0)
    return op("Cast", [op("Max", [op("Sub", [ends, starts], "lengths"),
                                  ctx.const(f"{prefix}/min_len", np.asarray(1, np.int64))], "lengths_ge1")],
              "lengths_f32", to=1)  # FLOAT (1)


@exporter("DotInteraction")
def export_dot_interaction(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    """concat(x, Gram(stack(x, e_1..e_T)) strictly-lower triangle, row-major)
    as Concat/Reshape/MatMul/Transpose and one Gather of the flat triangle ids."""
    n_ = node.name
    batch, dim = ctx.shape(node.inputs[0])
    f = len(node.inputs)

    def op(kind: str, inputs: list[str], tag: str, **kw: Any) -> str:
        return ctx.emit(kind, inputs, f"{n_}/{tag}", name=f"{n_}/{tag}", **kw)

    flat = op("Concat", list(node.inputs), "stacked_flat", axis=1)  # (B, F*d): each input is (B, d)
    z = op("Reshape", [flat, ctx.const(f"{n_}/bfd", [batch, f, dim])], "stacked")  # (B, F, d)
    gram = op("MatMul", [z, op("Transpose", [z], "stacked_t", perm=[0, 2, 1])], "gram")  # (B, F, F)
    li, lj = np.tril_indices(f, -1)
    pairs = op("Gather", [op("Reshape", [gram, ctx.const(f"{n_}/b_ff", [batch, f * f])], "gram_flat"),
                          ctx.const(f"{n_}/lower_triangle", (li * f + lj).astype(np.int64))], "pairs", axis=1)
    ctx.emit("Concat", [node.inputs[0], pairs], node.outputs, name=f"{n_}/out", axis=1)
