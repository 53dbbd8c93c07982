"""Recurrent ops for behaviour sequences: GRU (ONNX semantics) and DIEN's
AUGRU (attention-update GRU).

Layout (batch first, weights stored for `x @ W` like Linear):

    input          X  (B, T, I)   float32
    weight         W  (I, 3H)     float32, column blocks in gate order z, r, h
    recurrence     R  (H, 3H)     float32, same gate order
    weight_bias    Wb (3H,)       float32
    recurrence_bias Rb (3H,)      float32
    sequence_lens  L  (B,)        int64, optional; each in [0, T]

One step, with linear_before_reset = 1 (ONNX's flag; PyTorch's nn.GRU
computes the same), sigmoid s and an initial state of zeros:

    z  = s(x_t Wz + Wbz + h Rz + Rbz)
    r  = s(x_t Wr + Wbr + h Rr + Rbr)
    h~ = tanh(x_t Wh + Wbh + r * (h Rh + Rbh))
    h' = (1 - z) * h~ + z * h                     (GRU)

Mapping to an ONNX GRU node (layout 0, one forward direction, hidden_size H,
linear_before_reset=1): ONNX W = W.T[None] (1, 3H, I), R = R.T[None]
(1, 3H, H), B = concat(Wb, Rb)[None] (1, 6H), sequence_lens = L as int32,
X = X.transpose(1, 0, 2); ONNX Y (T, 1, B, H) = our Y.transpose(1, 0, 2)[:, None]
and Y_h (1, B, H) = our Y_h[None].

Variable lengths follow ONNX too: sequences are left-aligned, a step t >= L[b]
keeps the previous state of row b, Y is zero there and Y_h is the state after
the last valid step (zeros for L[b] = 0).

Kernels: with numba, the compiled recurrence of engine.ops.rnn_kernels (the
whole step loop in one nogil kernel, padded steps skipped, the rows split
over the engine's threads); without it, a numpy step loop (BLAS products,
padded rows masked, not skipped). `flops` counts every step of every row,
all that shapes can tell: with lengths, the compiled kernel does less (on
dien's lengths, uniform in 1..T, about half).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from engine.ops import rnn_kernels
from engine.ops.base import Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape, stored_bytes
from engine.ops.elementwise import Sigmoid, Tanh

# Per-element FLOPs of the gate functions, the same convention as the
# Sigmoid (4) and Tanh (5) ops so a fused and an unfused graph count alike.
SIGMOID_FLOPS = Sigmoid.flops_per_element
TANH_FLOPS = Tanh.flops_per_element
# Gate arithmetic per (batch, step, hidden unit), beyond the two GEMMs:
# 6 bias adds (Wb and Rb over z, r, h), 2 pre-activation adds (z, r),
# 2 sigmoids, 1 reset multiply + 1 add for h~, 1 tanh, and the update
# h' = h~ + z * (h - h~): 3.
GRU_ELEMENTWISE_FLOPS = 6 + 2 + 2 * SIGMOID_FLOPS + 2 + TANH_FLOPS + 3
# AUGRU adds u = a * (1 - z): one subtract and one multiply.
AUGRU_ELEMENTWISE_FLOPS = GRU_ELEMENTWISE_FLOPS + 2


def _sigmoid_inplace(v: np.ndarray) -> None:
    """s(v) = 0.5 * tanh(v / 2) + 0.5: overflow-free, and several times faster
    than scipy's expit on float32."""
    v *= np.float32(0.5)
    np.tanh(v, out=v)
    v *= np.float32(0.5)
    v += np.float32(0.5)


class _RecurrentBase(Op):
    """Shared shape checks, FLOPs and kernel of GRU and AUGRU."""

    num_outputs = 2
    multithreaded = True  # compiled: rows split over threads; numpy: BLAS products
    attention: ClassVar[bool] = False  # AUGRU takes scores (B, T) as input #1
    dtype_error = "{input} has dtype {dtype} but {op} expects {allowed}"

    @classmethod
    def _offset(cls) -> int:
        return 1 if cls.attention else 0

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        o = cls._offset()
        x = tuple(input_shapes[0])
        w, r, wb, rb = (tuple(s) for s in input_shapes[1 + o:5 + o])
        if len(x) != 3:
            raise ShapeError(f"{cls.label(0, names)} has shape {fmt_shape(x)} but must be 3-D (batch, steps, features)")
        b, t, i = x
        if len(r) != 2 or r[1] != 3 * r[0]:
            raise ShapeError(
                f"{cls.label(2 + o, names)} has shape {fmt_shape(r)} but must be (hidden, 3 * hidden) "
                "with gate blocks z, r, h"
            )
        h = r[0]
        cls.check_input_shape(1 + o, input_shapes, (i, 3 * h),
                              f"{cls.label(0, names)} has {i} features and the hidden size is {h}", names)
        for k, bias in ((3 + o, wb), (4 + o, rb)):
            if bias != (3 * h,):
                raise ShapeError(
                    f"{cls.label(k, names)} has shape {fmt_shape(bias)} but must be {fmt_shape((3 * h,))} "
                    f"(3 gates of hidden size {h})"
                )
        if cls.attention and tuple(input_shapes[1]) != (b, t):
            raise ShapeError(
                f"{cls.label(1, names)} has shape {fmt_shape(input_shapes[1])} but must be "
                f"{fmt_shape((b, t))}: one score per batch row and step of {cls.label(0, names)}"
            )
        if len(input_shapes) == len(cls.input_roles) and tuple(input_shapes[-1]) != (b,):
            raise ShapeError(
                f"{cls.label(len(input_shapes) - 1, names)} has shape {fmt_shape(input_shapes[-1])} "
                f"but must be {fmt_shape((b,))}: one length per batch row"
            )
        return ((b, t, h), (b, h))

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        b, t, i = input_shapes[0]
        h = input_shapes[2 + cls._offset()][0]
        per_element = AUGRU_ELEMENTWISE_FLOPS if cls.attention else GRU_ELEMENTWISE_FLOPS
        return 2 * b * t * i * 3 * h + 2 * b * t * h * 3 * h + per_element * b * t * h

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        if rnn_kernels.AVAILABLE:
            return rnn_kernels.recurrence_threads(input_shapes[0][0], limit)
        return limit

    @classmethod
    def kernel_bytes(cls, input_shapes: Shapes, output_shapes: Shapes, dtypes: Sequence[str],
                     attrs: Attrs) -> int | None:
        """The compiled kernel transposes W and R on every call: each copy written once and read once."""
        if not rnn_kernels.AVAILABLE:
            return None
        o = cls._offset()
        weights = 2 * stored_bytes(input_shapes[1 + o:3 + o], dtypes[1 + o:3 + o])
        return cls.bytes(input_shapes, output_shapes, dtypes) + weights

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        o = cls._offset()
        x = inputs[0]
        scores = inputs[1] if cls.attention else None
        w, r, wb, rb = inputs[1 + o:5 + o]
        lens = inputs[5 + o] if len(inputs) > 5 + o else None
        t = x.shape[1]
        if lens is not None and lens.size and (lens.min() < 0 or lens.max() > t):
            bad = int(np.flatnonzero((lens < 0) | (lens > t))[0])
            raise ValueError(
                f"{cls.op_type} sequence_lens[{bad}] = {int(lens[bad])} is outside [0, {t}] "
                f"(the input has {t} steps)"
            )
        if rnn_kernels.AVAILABLE:
            return rnn_kernels.recurrence(x, scores, w, r, wb, rb, lens)
        return cls._run_numpy(x, scores, w, r, wb, rb, lens)

    @classmethod
    def _run_numpy(cls, x: np.ndarray, scores: np.ndarray | None, w: np.ndarray, r: np.ndarray, wb: np.ndarray,
                   rb: np.ndarray, lens: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The step loop in numpy: BLAS products, every row every step, padded rows masked."""
        b, t, i = x.shape
        h_size = r.shape[0]
        # Time-major inside the loop so each step reads and writes contiguous
        # (B, .) blocks; all input projections in one GEMM, only h @ R per step.
        xw = np.matmul(x.transpose(1, 0, 2).reshape(t * b, i), w).reshape(t, b, 3 * h_size)
        xw += wb
        a_tm = np.ascontiguousarray(scores.T) if scores is not None else None
        y = np.empty((t, b, h_size), dtype=np.float32)
        h = np.zeros((b, h_size), dtype=np.float32)
        hr = np.empty((b, 3 * h_size), dtype=np.float32)
        zr = np.empty((b, 2 * h_size), dtype=np.float32)
        cand = np.empty((b, h_size), dtype=np.float32)
        gate = np.empty((b, h_size), dtype=np.float32)
        active = (np.arange(t)[:, None] < lens[None, :])[..., None] if lens is not None else None
        for step in range(t):
            np.matmul(h, r, out=hr)
            hr += rb
            xt = xw[step]
            np.add(xt[:, :2 * h_size], hr[:, :2 * h_size], out=zr)
            _sigmoid_inplace(zr)
            z, reset = zr[:, :h_size], zr[:, h_size:]
            np.multiply(reset, hr[:, 2 * h_size:], out=cand)
            cand += xt[:, 2 * h_size:]
            np.tanh(cand, out=cand)
            h_new = y[step]
            if a_tm is None:  # h' = h~ + z * (h - h~)
                np.subtract(h, cand, out=h_new)
                h_new *= z
                h_new += cand
            else:  # DIEN: u' = a * (1 - z); h' = h + u' * (h~ - h)
                np.subtract(1.0, z, out=gate)
                gate *= a_tm[step][:, None]
                np.subtract(cand, h, out=h_new)
                h_new *= gate
                h_new += h
            if active is None:
                h[...] = h_new
            else:
                np.copyto(h, h_new, where=active[step])
        if active is not None:
            y *= active  # padded steps output zeros, as ONNX
        return (np.ascontiguousarray(y.transpose(1, 0, 2)), h)


class GRU(_RecurrentBase):
    """Single-direction GRU over a batch-first sequence; outputs every hidden
    state Y (B, T, H) and the last state Y_h (B, H). Semantics and the ONNX
    mapping are in the module docstring. FLOPs: 2*B*T*I*3H (input GEMM) +
    2*B*T*H*3H (recurrent GEMMs) + GRU_ELEMENTWISE_FLOPS (= 26) per B*T*H
    element; bytes: every input, weight and output once."""

    op_type = "GRU"
    input_roles = ("input", "weight", "recurrence", "weight_bias", "recurrence_bias", "sequence_lens")
    input_dtypes = ("float32",) * 5 + ("int64",)
    min_inputs = 5


class AUGRU(_RecurrentBase):
    """DIEN's GRU with attentional update gate (Zhou et al., AAAI 2019, eq. 3):
    with u = 1 - z the ONNX-convention update gate and a_t the score of step
    t (input `attention`, (B, T)):

        u' = a_t * u;   h' = (1 - u') * h + u' * h~

    so a score of 0 leaves the state unchanged and 1 is a plain GRU step.
    (The authors' TensorFlow code scales the other gate, (1 - a) * z, which
    differs; this follows the paper.) ONNX has no such operator, so an
    exporter must decompose it or refuse it. FLOPs: as GRU plus 2 per
    B*T*H element (AUGRU_ELEMENTWISE_FLOPS = 28)."""

    op_type = "AUGRU"
    input_roles = ("input", "attention", "weight", "recurrence", "weight_bias", "recurrence_bias",
                   "sequence_lens")
    input_dtypes = ("float32",) * 6 + ("int64",)
    min_inputs = 6
    attention = True
