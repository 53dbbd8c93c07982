"""Exporters for the fused ops engine.passes emit: each is spelled out as
the ops it fused (FusedLinear -> Linear + activation, FusedConv -> Conv +
Relu), so an optimized graph exports to the same ONNX as the unoptimized
one, up to names. GroupedEmbeddingBag pools all its tables in one call, and
exports as one table-batched lookup (see export_grouped_embedding_bag).
ActivationUnitLinear's weights are folded, which cannot be undone: it
exports as the folded computation in plain ONNX ops."""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.ir import Node
from engine.onnx_io.export_graph import EXPORTERS, ExportContext, exporter
from engine.onnx_io.export_recsys import bag_lengths, bag_of_position


def _unfused(ctx: ExportContext, name: str, op: str, inputs: tuple[str, ...], outputs: tuple[str, ...],
             attrs: dict[str, Any]) -> None:
    EXPORTERS[op](ctx, Node(name, op, inputs, outputs, attrs), attrs)


@exporter("FusedLinear")
def export_fused_linear(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    pre = ctx.fresh(f"{node.name}/linear")
    _unfused(ctx, f"{node.name}/linear", "Linear", node.inputs, (pre,), {})
    act = attrs["activation"]
    act_attrs = {"approximate": attrs.get("approximate", "none")} if act == "Gelu" else {}
    _unfused(ctx, f"{node.name}/{act.lower()}", act, (pre,), node.outputs, act_attrs)


@exporter("FusedConv")
def export_fused_conv(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    pre = ctx.fresh(f"{node.name}/conv")
    conv_attrs = {k: v for k, v in attrs.items() if k != "activation"}
    _unfused(ctx, f"{node.name}/conv", "Conv", node.inputs, (pre,), conv_attrs)
    _unfused(ctx, f"{node.name}/relu", "Relu", (pre,), node.outputs, {})


@exporter("GroupedEmbeddingBag")
def export_grouped_embedding_bag(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    """All tables in one lookup, as the grouped kernel (and FBGEMM's table-batched
    embedding) does: the tables stacked into one initializer, each table's ids
    shifted to its rows, one Gather, and the bags of every table pooled by one
    ScatterND into a (T*B, D) block that a Split cuts into the T outputs. That
    is 10 ONNX nodes where one EmbeddingBag per table is 6 each (156 for dlrm's
    26 tables), and onnxruntime's profiler costs about 6-17 us a node.
    Tables of different widths, dtypes or batches, or weights that are not
    initializers, export one EmbeddingBag per table."""
    k_tables = len(node.outputs)
    weights, indices, offsets = (list(node.inputs[i::3]) for i in range(3))
    mode = attrs.get("mode", "sum")
    if not _batchable(ctx, weights, indices, offsets):
        for k, out in enumerate(node.outputs):
            _unfused(ctx, f"{node.name}/table{k}", "EmbeddingBag", node.inputs[3 * k:3 * k + 3], (out,),
                     {"mode": mode})
        return
    n_ = node.name
    tables = [ctx.values[w] for w in weights]
    counts = [ctx.shape(i)[0] for i in indices]
    batch, dim, n = ctx.shape(offsets[0])[0], tables[0].shape[1], sum(counts)
    id_dtype = ctx.specs[indices[0]].dtype

    def op(kind: str, inputs: list[str], tag: str, **kw: Any) -> str:
        return ctx.emit(kind, inputs, f"{n_}/{tag}", name=f"{n_}/{tag}", **kw)

    # One more position past the ids reads a zero row appended to the tables: the bag search then needs no
    # Slice (its n + 1 positions all gather), and that row adds nothing to the last bag it falls in.
    stacked = np.concatenate([*tables, np.zeros((1, dim), tables[0].dtype)])
    row_base = np.repeat(np.cumsum([0] + [t.shape[0] for t in tables[:-1]]), counts)
    ids = op("Add", [op("Concat", [*indices, ctx.const(f"{n_}/pad_id", np.zeros(1, id_dtype))], "ids", axis=0),
                     ctx.const(f"{n_}/table_rows", np.append(row_base, len(stacked) - 1).astype(id_dtype))],
             "table_ids")
    rows = op("Gather", [ctx.const(f"{n_}/tables", stacked), ids], "rows", axis=0)  # (n + 1, D)
    position_base = np.repeat(np.cumsum([0] + counts[:-1]), batch).astype(ctx.specs[offsets[0]].dtype)
    starts = op("Add", [op("Concat", offsets, "offsets", axis=0), ctx.const(f"{n_}/table_positions", position_base)],
                "bag_starts_all")  # bag k*B + b: table k's bag b
    bag = op("Unsqueeze", [bag_of_position(ctx, n_, starts, k_tables * batch, n, past_end=True),
                           ctx.const(f"{n_}/axis_col", [1])], "bag_index")  # (n + 1, 1)
    zeros = ctx.const(f"{n_}/zeros", np.zeros((k_tables * batch, dim), dtype=tables[0].dtype))
    pooled = op("ScatterND", [zeros, bag, rows], "pool", reduction="add")
    if mode == "mean":
        # the ids are concatenated in table order, so each table's last bag ends where the next table's
        # first bag starts (offsets start at 0), and the last table's at n
        lengths = bag_lengths(ctx, n_, starts, k_tables * batch, n)
        pooled = op("Div", [pooled, op("Unsqueeze", [lengths, ctx.const(f"{n_}/axis_last", [-1])], "lengths_col")],
                    "mean")
    ctx.emit("Split", [pooled, ctx.const(f"{n_}/batches", [batch] * k_tables)], node.outputs, name=f"{n_}/split",
             axis=0)


def _batchable(ctx: ExportContext, weights: list[str], indices: list[str], offsets: list[str]) -> bool:
    if not all(w in ctx.values for w in weights):
        return False
    one = {(ctx.values[w].shape[1], ctx.values[w].dtype.str) for w in weights}
    return (len(one) == 1 and len({ctx.specs[i].dtype for i in indices}) == 1
            and len({(ctx.shape(o), ctx.specs[o].dtype) for o in offsets}) == 1)


@exporter("ActivationUnitLinear")
def export_activation_unit_linear(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    q3, k, wq, wk = node.inputs[:4]
    (b, _, d), h = ctx.shape(k), ctx.shape(wq)[1]
    name = node.name
    q2 = ctx.emit("Reshape", [q3, ctx.const(f"{name}/query_shape", [b, d])], f"{name}/query", name=f"{name}/query")
    rows = ctx.emit("Gemm" if len(node.inputs) > 4 else "MatMul", [q2, wq, *node.inputs[4:]], f"{name}/rows",
                    name=f"{name}/rows")
    rows3 = ctx.emit("Reshape", [rows, ctx.const(f"{name}/rows_shape", [b, 1, h])], f"{name}/rows3",
                     name=f"{name}/rows3")
    prod = ctx.emit("Mul", [q3, k], f"{name}/prod", name=f"{name}/prod")
    pairs = ctx.emit("Concat", [k, prod], f"{name}/pairs", name=f"{name}/pairs", axis=2)
    keys = ctx.emit("MatMul", [pairs, wk], f"{name}/keys", name=f"{name}/keys")
    act = attrs.get("activation")
    if act is None:
        ctx.emit("Add", [keys, rows3], node.outputs, name=f"{name}/add")
        return
    pre = ctx.emit("Add", [keys, rows3], f"{name}/add", name=f"{name}/add")
    act_attrs = {"approximate": attrs.get("approximate", "none")} if act == "Gelu" else {}
    _unfused(ctx, f"{name}/{act.lower()}", act, (pre,), node.outputs, act_attrs)
