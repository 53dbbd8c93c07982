"""EmbeddingBag over FBGEMM-style row-wise quantized tables
(engine.quant.rowwise: 8-bit rows of D codes + fp32 scale + fp32 bias,
4-bit rows of ceil(D/2) bytes + fp16 scale + fp16 bias). The quantization
pipeline emits these (engine.quant.rowwise.quantize_embedding_node); no
model builds them.

EmbeddingBagRowwise: inputs (packed uint8 (rows, row_bytes), indices int64,
offsets int64), attributes mode (sum/mean), bits (8 or 4) and dim (the
float width: a 4-bit row of ceil(D/2) bytes does not tell an odd D from the
next even one). Output (batch, dim) float32: each bag pools the rows
dequantized as x' = q * scale + bias, exactly what EmbeddingBag computes on
engine.quant.rowwise.dequantize_rows(packed) (same float32 operations in
the same order, bit for bit, on both paths).
GroupedEmbeddingBagRowwise: k of them in one node (inputs (packed, indices,
offsets) * k, shared mode and bits, `dims` one per table, `dedup` as
GroupedEmbeddingBag's), one compiled call for all tables.

Kernel: the compiled EmbeddingBag kernel (engine.ops.embedding_kernels)
dequantizes and pools in one pass, reading each row's codes, scale and bias
from the same few cache lines; without numba, numpy gathers the packed rows,
dequantizes them (dequantize_rows) and pools them as EmbeddingBag's numpy
path does (that is also the tests' oracle).

FLOPs: per gathered element a multiply-add to dequantize (2) and an add to
pool (1), so 3 * n * dim, plus batch * dim in mean mode as EmbeddingBag.
Bytes: ids and offsets read, every gathered row read at its packed size
(n * (D + 8) for 8-bit, n * (ceil(D/2) + 4) for 4-bit, against n * 4D for
fp32), and the float32 output written.

Tolerance against the fp32 table: engine.quant.rowwise.error_bound (half a
quantization step per element, plus the fp16 rounding of 4-bit rows).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.ops.base import Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape
from engine.ops.embedding import EmbeddingBag, embedding_bag, embedding_bags
from engine.ops.fused import GroupedEmbeddingBag
from engine.quant.rowwise import BITS, row_bytes


def _bits(attrs: Mapping[str, Any]) -> int:
    bits = attrs.get("bits")
    if bits not in BITS:
        raise ShapeError(f"attribute bits is {bits!r}; expected one of {', '.join(map(str, BITS))}")
    return bits


def _dim(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ShapeError(f"attribute {what} is {value!r}; expected the table's float width, an integer >= 1")
    return int(value)


def _check_table(shape: Shape, bits: int, dim: int, label: str) -> None:
    want = row_bytes(dim, bits)
    if len(shape) != 2 or shape[1] != want:
        raise ShapeError(f"{label} has shape {fmt_shape(shape)} but {bits}-bit rows of width {dim} "
                         f"must be (rows, {want})")


class EmbeddingBagRowwise(Op):
    op_type = "EmbeddingBagRowwise"
    input_roles = EmbeddingBag.input_roles
    min_inputs = 3
    attr_defaults = {"mode": "sum", "bits": None, "dim": None}
    input_dtypes = ("uint8", "int64", "int64")
    output_dtypes = ("float32",)
    dtype_error = EmbeddingBag.dtype_error

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        bits, dim = _bits(attrs), _dim(attrs.get("dim"), "dim")
        _check_table(tuple(input_shapes[0]), bits, dim, cls.label(0, names))
        ((batch, _),) = EmbeddingBag.infer_shape([(1, 1), *input_shapes[1:]], attrs, names)
        return ((batch, dim),)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        packed, indices, offsets = inputs
        mode = EmbeddingBag._mode(attrs)
        return (embedding_bag(packed, indices, offsets, mode, bits=attrs["bits"], dim=attrs["dim"]),)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        dim, (n,), (batch,) = attrs["dim"], input_shapes[1], input_shapes[2]
        return 3 * n * dim + (batch * dim if EmbeddingBag._mode(attrs) == "mean" else 0)

    @classmethod
    def bytes(
        cls, input_shapes: Sequence[Shape], output_shapes: Sequence[Shape], dtypes: Sequence[str]
    ) -> int:
        # EmbeddingBag's count on the packed table: n rows of row_bytes uint8 each
        return EmbeddingBag.bytes(input_shapes, output_shapes, dtypes)

    # EmbeddingBag's kernels and split, reading packed rows
    threads = EmbeddingBag.threads
    gathered = EmbeddingBag.gathered


class GroupedEmbeddingBagRowwise(GroupedEmbeddingBag):
    op_type = "GroupedEmbeddingBagRowwise"
    table_op = EmbeddingBagRowwise
    attr_defaults = {"mode": "sum", "bits": None, "dims": None, "dedup": 0}

    @classmethod
    def _dims(cls, attrs: Mapping[str, Any], k: int) -> list[int]:
        dims = attrs.get("dims")
        if not isinstance(dims, (list, tuple)) or len(dims) != k:
            raise ShapeError(f"attribute dims is {dims!r}; expected a list of {k} table widths, one per table")
        return [_dim(d, f"dims[{i}]") for i, d in enumerate(dims)]

    @classmethod
    def _table_attrs(cls, attrs: Mapping[str, Any], count: int) -> list[Mapping[str, Any]]:
        return [{**attrs, "dim": dim} for dim in cls._dims(attrs, count)]

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        return embedding_bags(inputs[0::3], inputs[1::3], inputs[2::3], EmbeddingBag._mode(attrs),
                              dedup=bool(attrs.get("dedup", 0)), bits=attrs["bits"], dims=attrs["dims"])
