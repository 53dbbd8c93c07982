"""FBGEMM's fused row-wise quantized embedding tables (QuantUtils.cc:
FloatToFused8BitRowwiseQuantizedSBFloat, FloatToFusedNBitRowwiseQuantizedSBHalf);
the graph hook that quantizes an embedding node is engine.quant.rowwise_nodes.

Layout, one uint8 row per table row (row_bytes):
- 8-bit: D codes, then fp32 scale and fp32 bias (D + 8 bytes).
  bias = min, scale = (max - min) / 255,
  q = rint((x - min) * 255 / (max - min + 1e-8)).
- 4-bit: ceil(D / 2) bytes of codes (element 2j in the low nibble of byte j,
  2j + 1 in the high nibble), then fp16 scale and fp16 bias (ceil(D/2) + 4
  bytes). min is rounded to fp16 first and is the bias; scale =
  (max - bias) / 15 rounded to fp16 (1 when the range is 0, or the fp16
  scale is 0 or its inverse overflows); q = clip(rint((x - bias) / scale), 0, 15).
Dequantized: x' = q * scale + bias, in float32 (scale and bias widened exactly).
All arithmetic in float32, rounding half to even (lrintf), as FBGEMM.

Memory: (D + 8) / 4D of the fp32 table for 8-bit (0.28 at D = 64, 3.6x
less), (ceil(D/2) + 4) / 4D for 4-bit (0.14 at D = 64, 7.1x less).

Tolerance (`error_bound`, per row, checked by tests/engine/test_quant_rowwise.py):
every element's error |x' - x| is at most half a quantization step, scale / 2,
plus for 4-bit what fp16 storage adds: |min - bias| (an element below the
rounded-up bias clips to code 0) and 15 * |scale - (max - bias) / 15| (the
top code falls short when the scale rounds down), plus float32 rounding
(1e-8 + 2^-21 * max |x| of the row). A pooled bag's error is at most the sum
of its rows' bounds (times 1/len in mean mode) plus fp32 summation slack.

Kept to numpy imports: engine.ops imports this module, and engine.ir imports
engine.ops.
"""
from __future__ import annotations

import numpy as np

BITS = (8, 4)
EPSILON = np.float32(1e-8)  # FBGEMM's kEpsilon in the 8-bit inverse scale
CHUNK_ROWS = 1 << 16  # rows quantized at a time: caps the float32 temporaries of a big table


def check_bits(bits: int) -> None:
    if bits not in BITS:
        raise ValueError(f"row-wise quantization: bits is {bits!r}; expected one of {', '.join(map(str, BITS))}")


def code_bytes(dim: int, bits: int) -> int:
    """Bytes of codes per row: dim for 8-bit, ceil(dim / 2) for 4-bit."""
    check_bits(bits)
    return (dim * bits + 7) // 8


def row_bytes(dim: int, bits: int) -> int:
    """Packed bytes per row: codes, then scale and bias (fp32 for 8-bit, fp16 for 4-bit)."""
    return code_bytes(dim, bits) + (8 if bits == 8 else 4)


def _quantize_chunk(x: np.ndarray, bits: int) -> np.ndarray:
    rows, dim = x.shape
    lo, hi = x.min(axis=1), x.max(axis=1)
    packed = np.empty((rows, row_bytes(dim, bits)), dtype=np.uint8)
    if bits == 8:
        span = hi - lo
        scale = span / np.float32(255)
        inverse = np.float32(255) / (span + EPSILON)
        q = np.rint((x - lo[:, None]) * inverse[:, None])
        packed[:, :dim] = np.clip(q, 0, 255)
        packed[:, dim:dim + 4] = scale.astype(np.float32).view(np.uint8).reshape(rows, 4)
        packed[:, dim + 4:] = lo.view(np.uint8).reshape(rows, 4)
        return packed
    bias16 = lo.astype(np.float16)
    bias = bias16.astype(np.float32)
    span = hi - bias
    with np.errstate(divide="ignore", over="ignore"):
        scale = np.where(span == 0, np.float32(1), span / np.float32(15)).astype(np.float16).astype(np.float32)
        inverse = np.float32(1) / scale
    odd = (scale == 0) | np.isinf(inverse)
    scale[odd], inverse[odd] = 1, 1
    q = np.clip(np.rint((x - bias[:, None]) * inverse[:, None]), 0, 15).astype(np.uint8)
    if dim % 2:
        q = np.concatenate([q, np.zeros((rows, 1), dtype=np.uint8)], axis=1)
    nbytes = code_bytes(dim, 4)
    packed[:, :nbytes] = q[:, 0::2] | (q[:, 1::2] << 4)
    packed[:, nbytes:nbytes + 2] = scale.astype(np.float16).view(np.uint8).reshape(rows, 2)
    packed[:, nbytes + 2:] = bias16.view(np.uint8).reshape(rows, 2)
    return packed


def quantize_rows(table: np.ndarray, bits: int) -> np.ndarray:
    """The (rows, row_bytes(dim, bits)) uint8 packed table of a 2-D float table."""
    check_bits(bits)
    if table.ndim != 2 or table.shape[1] == 0:
        raise ValueError(f"row-wise quantization: the table has shape {table.shape}; expected (rows, dim) with dim > 0")
    if not np.issubdtype(table.dtype, np.floating):
        raise ValueError(f"row-wise quantization: the table has dtype {table.dtype}; expected a float dtype")
    out = np.empty((table.shape[0], row_bytes(table.shape[1], bits)), dtype=np.uint8)
    for start in range(0, table.shape[0], CHUNK_ROWS):
        x = np.asarray(table[start:start + CHUNK_ROWS], dtype=np.float32)
        bad = ~np.isfinite(x).all(axis=1)
        if bits == 4:
            with np.errstate(over="ignore"):  # fp16 storage of min and scale must stay finite
                bad |= ~np.isfinite(x.min(axis=1).astype(np.float16))
                bad |= ~np.isfinite(((x.max(axis=1) - x.min(axis=1)) / np.float32(15)).astype(np.float16))
        if bad.any():
            row = start + int(np.flatnonzero(bad)[0])
            what = "a value that is not finite" if not np.isfinite(x[row - start]).all() else \
                "a min or range beyond float16 (4-bit rows store scale and bias as float16, max 65504)"
            raise ValueError(f"row-wise quantization: row {row} of the table has {what}")
        out[start:start + x.shape[0]] = _quantize_chunk(x, bits)
    return out


def scale_bias(packed: np.ndarray, bits: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The float32 (scale, bias) of every row of a packed table."""
    _check_packed(packed, bits, dim)
    start, kind = code_bytes(dim, bits), (np.float32 if bits == 8 else np.float16)
    size = np.dtype(kind).itemsize
    tail = np.ascontiguousarray(packed[:, start:start + 2 * size])
    pairs = tail.view(kind).reshape(packed.shape[0], 2).astype(np.float32)
    return pairs[:, 0], pairs[:, 1]


def _check_packed(packed: np.ndarray, bits: int, dim: int) -> None:
    check_bits(bits)
    if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != row_bytes(dim, bits):
        raise ValueError(f"row-wise table: got {packed.dtype} {packed.shape}; expected uint8 (rows, "
                         f"{row_bytes(dim, bits)}) for {bits}-bit rows of width {dim}")


def dequantize_rows(packed: np.ndarray, bits: int, dim: int) -> np.ndarray:
    """The (rows, dim) float32 rows x' = q * scale + bias of a packed table."""
    scale, bias = scale_bias(packed, bits, dim)
    if bits == 8:
        q = packed[:, :dim].astype(np.float32)
    else:
        codes = packed[:, :code_bytes(dim, 4)]
        q = np.empty((packed.shape[0], 2 * codes.shape[1]), dtype=np.float32)
        q[:, 0::2], q[:, 1::2] = codes & 15, codes >> 4
        q = q[:, :dim]
    return q * scale[:, None] + bias[:, None]


def error_bound(table: np.ndarray, packed: np.ndarray, bits: int) -> np.ndarray:
    """Per row of `table`, the documented bound on |dequantized - original| of any element."""
    x = np.asarray(table, dtype=np.float32)
    scale, bias = (v.astype(np.float64) for v in scale_bias(packed, bits, x.shape[1]))
    lo, hi = x.min(axis=1).astype(np.float64), x.max(axis=1).astype(np.float64)
    levels = 2 ** bits - 1
    fp16 = np.abs(lo - bias) + levels * np.abs(scale - (hi - bias) / levels) if bits == 4 else 0.0
    return scale / 2 + fp16 + 1e-8 + 2.0 ** -21 * np.maximum(np.abs(lo), np.abs(hi))
