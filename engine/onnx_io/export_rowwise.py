"""Exporters for the row-wise quantized embedding ops (engine.ops.embedding_rowwise).

Standard ONNX has no fused row-wise table, so the packed table is split at
export time into initializers that keep its sizes: the codes (rows,
code_bytes) uint8 (4-bit still two to a byte) and the scales and biases
(rows, 2) in their stored dtype (fp32 for 8-bit, fp16 for 4-bit). Only the
looked-up rows are dequantized, as the kernel does:
    codes = Gather(codes, indices)                      (n, code_bytes) uint8
    4-bit: q = interleave(codes & 15, codes >> 4)[:, :D] (element 2j low nibble)
    s, b  = Split(Cast(Gather(scale_bias, indices)))     (n, 1) float32 each
    rows  = Cast(q) * s + b                              (n, D) float32
then EmbeddingBag's pooling (export_recsys.pool_bags). The Mul and the Add
stay two float32 roundings, as in dequantize_rows, so the rows are the
engine's bit for bit and the bags agree up to summation order.
GroupedEmbeddingBagRowwise exports one such lookup per table (dedup does not
change the result). A table read by several lookups (of one node or several)
is split once per export.
"""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from onnx import TensorProto

from engine.ir import Node
from engine.onnx_io.export_graph import ExportContext, exporter
from engine.onnx_io.export_recsys import pool_bags
from engine.quant.rowwise import code_bytes, scale_bias

Parts = tuple[str, str]  # the codes and scale_bias initializers of one packed table
_SPLIT: weakref.WeakKeyDictionary[ExportContext, dict[str, Parts]] = weakref.WeakKeyDictionary()


def _split_table(ctx: ExportContext, node: Node, index: int, bits: int, dim: int) -> Parts:
    """The table's initializers, made on its first lookup in this export."""
    done = _SPLIT.setdefault(ctx, {})
    if node.inputs[index] not in done:
        done[node.inputs[index]] = _new_split(ctx, node, index, bits, dim)
    return done[node.inputs[index]]


def _new_split(ctx: ExportContext, node: Node, index: int, bits: int, dim: int) -> Parts:
    packed = ctx.value(node, index, "packed table")  # its shape and dtype were checked by infer_specs
    scale, bias = scale_bias(packed, bits, dim)
    stored = np.float32 if bits == 8 else np.float16  # exact: widened from this dtype
    name = node.inputs[index]
    codes = ctx.const(f"{name}/codes", np.ascontiguousarray(packed[:, :code_bytes(dim, bits)]))
    pairs = ctx.const(f"{name}/scale_bias", np.stack([scale, bias], axis=1).astype(stored))
    return codes, pairs


def _lookup(ctx: ExportContext, node: Node, parts: Parts, bits: int, dim: int, mode: str) -> None:
    """Gather and dequantize node.inputs[1]'s rows of the split table, then pool them into node.outputs."""
    n_, indices = node.name, node.inputs[1]
    codes, pairs = parts

    def op(kind: str, inputs: list[str], tag: str, **kw: Any) -> str:
        return ctx.emit(kind, inputs, f"{n_}/{tag}", name=f"{n_}/{tag}", **kw)

    q = op("Gather", [codes, indices], "codes", axis=0)
    if bits == 4:
        (n,) = ctx.shape(indices)
        low = op("BitwiseAnd", [q, ctx.const(f"{n_}/low_mask", np.array(15, np.uint8))], "low_nibbles")
        high = op("BitShift", [q, ctx.const(f"{n_}/four", np.array(4, np.uint8))], "high_nibbles",
                  direction="RIGHT")
        last = ctx.const(f"{n_}/axis_last", [-1])
        pairs_q = op("Concat", [op("Unsqueeze", [low, last], "low_col"), op("Unsqueeze", [high, last], "high_col")],
                     "nibble_pairs", axis=-1)  # (n, code_bytes, 2): element 2j, then 2j + 1
        q = op("Reshape", [pairs_q, ctx.const(f"{n_}/n_2c", [n, 2 * code_bytes(dim, 4)])], "nibbles")
        if dim % 2:  # the odd width's last byte holds a padding nibble
            q = op("Slice", [q, ctx.const(f"{n_}/from0", [0]), ctx.const(f"{n_}/to_dim", [dim]),
                             ctx.const(f"{n_}/axis1", [1])], "nibbles_d")
    qf = op("Cast", [q], "codes_f32", to=TensorProto.FLOAT)
    sb = op("Gather", [pairs, indices], "scale_bias", axis=0)
    if bits == 4:
        sb = op("Cast", [sb], "scale_bias_f32", to=TensorProto.FLOAT)
    scale, bias = ctx.fresh(f"{n_}/scale"), ctx.fresh(f"{n_}/bias")
    ctx.emit("Split", [sb], [scale, bias], name=f"{n_}/split_scale_bias", axis=1, num_outputs=2)
    rows = op("Add", [op("Mul", [qf, scale], "scaled"), bias], "rows")
    pool_bags(ctx, node, rows, mode)


@exporter("EmbeddingBagRowwise")
def export_embedding_bag_rowwise(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    bits, dim = attrs["bits"], attrs["dim"]
    _lookup(ctx, node, _split_table(ctx, node, 0, bits, dim), bits, dim, attrs["mode"])


@exporter("GroupedEmbeddingBagRowwise")
def export_grouped_embedding_bag_rowwise(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    bits = attrs["bits"]
    for k, (out, dim) in enumerate(zip(node.outputs, attrs["dims"], strict=True)):
        table = Node(f"{node.name}/table{k}", "EmbeddingBagRowwise", node.inputs[3 * k:3 * k + 3], (out,),
                     {"mode": attrs["mode"], "bits": bits, "dim": dim})
        _lookup(ctx, table, _split_table(ctx, table, 0, bits, dim), bits, dim, attrs["mode"])
