"""Compiled row kernels (numba): LayerNorm and softmax over the last axis of
a (rows, n) float32 block, each row read once from memory and normalised
while it is still in L1 (a 512-float row is 2 KiB), so a row costs one read
and one write of memory instead of numpy's five or six passes over the
whole tensor.

Both are nogil and take a row range, so the callers split rows over the
engine's threads (engine.ops.parallel). They use fastmath's reassociation
(and contraction) only, so LLVM vectorizes the sums; NaN and inf keep their
IEEE meaning: a softmax row with a NaN, a +inf, or only -inf comes out
NaN, as numpy's and ONNX's softmax give.

The softmax's exp is a Cephes-style polynomial (range reduction by ln 2,
degree-7 polynomial, 2^k built in the exponent bits), vectorizable where a
call to libm's expf is not; its relative error is about 1e-7. Arguments
below -87.5 or so (k = -127) give 0 where exp would be a float32
denormal under 1.2e-38: no softmax output moves by more than that. The
row's max is taken in eight lanes by hand (LLVM vectorizes no float max
reduction without nnan). 2^21 scores in rows of 64, in place, in blocks of
256 KiB: 2.5 ms on one thread; numpy's subtract, exp, sum and divide on the
same blocks 7.5 ms.

The softmax kernel is not wired in yet: MultiHeadAttention must give the
same numbers as its primitive spelling (tests/engine/test_passes_zoo.py
asks for rtol 1e-6, and the polynomial's last bits differ from numpy's
exp by up to 1.2e-6 at the transformer's output), so it switches together
with the Softmax op (engine/ops/elementwise.py, another owner's file).

JIT: two kernels, compiled on first use (10-30 s on the 2-core VM) and
cached on disk (`cache=True`), as engine.ops.embedding_kernels.
"""
from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError:  # the ops then run their numpy paths
    numba = None

AVAILABLE = numba is not None
# reassociation (vectorized sums and max) and FMA contraction; no nnan/ninf
FASTMATH = {"reassoc", "contract"}

LOG2E = np.float32(1.44269504088896341)
LN2_HI = np.float32(0.693359375)  # ln 2 = LN2_HI + LN2_LO, LN2_HI exact in few bits
LN2_LO = np.float32(-2.12194440e-4)
EXP_FLOOR = np.float32(-88.0)  # exp below this is 0 (k = -127: the exponent bits of 0.0)

if AVAILABLE:
    from llvmlite import ir
    from numba.extending import intrinsic

    @intrinsic
    def _as_f32(typingctx, bits):
        """The float32 whose bits are the int32 `bits`."""
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.FloatType())
        return numba.types.float32(numba.types.int32), codegen

    @numba.njit(nogil=True, inline="always")
    def _exp(x):
        """exp(x) for x <= 0 (or NaN): exp(r) * 2^k with x = k ln 2 + r, |r| <= ln 2 / 2."""
        x = EXP_FLOOR if x < EXP_FLOOR else x
        k = np.floor(x * LOG2E + np.float32(0.5))
        r = x - k * LN2_HI - k * LN2_LO
        p = np.float32(1.9875691500e-4)
        p = p * r + np.float32(1.3981999507e-3)
        p = p * r + np.float32(8.3334519073e-3)
        p = p * r + np.float32(4.1665795894e-2)
        p = p * r + np.float32(1.6666665459e-1)
        p = p * r + np.float32(5.0000001201e-1)
        return (p * r * r + r + np.float32(1.0)) * _as_f32((np.int32(k) + np.int32(127)) << np.int32(23))

    @numba.njit(nogil=True, inline="always")
    def _row_max(row, n):
        """max(row[:n]) with eight running maxima, which LLVM keeps in one vector register."""
        m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = np.float32(-np.inf)
        j = 0
        while j + 8 <= n:
            m0, m1, m2, m3 = max(m0, row[j]), max(m1, row[j + 1]), max(m2, row[j + 2]), max(m3, row[j + 3])
            m4, m5, m6, m7 = max(m4, row[j + 4]), max(m5, row[j + 5]), max(m6, row[j + 6]), max(m7, row[j + 7])
            j += 8
        m = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
        for jj in range(j, n):
            m = max(m, row[jj])
        return m

    @numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
    def softmax_rows(x, out, lo, hi):
        """out[r] = softmax(x[r]) for rows lo..hi-1 of (rows, n) float32 blocks
        (out may be x itself: the exps go to a scratch row first, as a loop
        that reads and writes what may be the same row does not vectorize,
        3.7x slower in place)."""
        n = x.shape[1]
        exps = np.empty(n, dtype=np.float32)
        for i in range(lo, hi):
            row, dst = x[i], out[i]
            m = _row_max(row, n)
            total = np.float32(0.0)
            for j in range(n):
                e = _exp(row[j] - m)
                exps[j] = e
                total += e
            inv = np.float32(1.0) / total
            for j in range(n):
                dst[j] = exps[j] * inv

    @numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
    def layer_norm_rows(x, scale, bias, eps, out, lo, hi):
        """out[r] = (x[r] - mean) / sqrt(var + eps) * scale + bias for rows
        lo..hi-1 of (rows, n) float32 blocks; the variance is the mean of the
        squared deviations (two passes over the row while it is in L1)."""
        n = x.shape[1]
        for i in range(lo, hi):
            row, dst = x[i], out[i]
            total = np.float32(0.0)
            for j in range(n):
                total += row[j]
            mean = total / np.float32(n)
            squares = np.float32(0.0)
            for j in range(n):
                c = row[j] - mean
                squares += c * c
            inv = np.float32(1.0) / np.sqrt(squares / np.float32(n) + eps)
            for j in range(n):
                dst[j] = (row[j] - mean) * inv * scale[j] + bias[j]
else:
    softmax_rows = layer_norm_rows = None


__all__ = ["AVAILABLE", "layer_norm_rows", "softmax_rows"]
