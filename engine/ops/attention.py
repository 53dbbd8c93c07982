"""Fused multi-head self-attention."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.ops.base import Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape
from engine.ops.elementwise import Softmax
from engine.ops.matmul import SMALL_GEMM, matmul
from engine.ops.parallel import run_parts, split_threads, threads_allowed


# Scores a block may hold: half of Zen 3's 512 KiB L2, leaving room for the
# block's Q, K and V rows, so the scores never leave L2 between their
# product, the softmax and the weighted sum.
L2_SCORE_BYTES = 1 << 18


def _split_heads(t: np.ndarray, heads: int) -> np.ndarray:
    """(B, S, E) -> (B, H, S, D), a view: each head's (S, D) matrix has rows E apart, which BLAS reads as is."""
    b, s, e = t.shape
    return t.reshape(b, s, heads, e // heads).transpose(0, 2, 1, 3)


def score_blocks(lo: int, hi: int, heads: int, s: int) -> list[tuple[int, int, int, int]]:
    """(b0, b1, r0, r1): batch entries b0..b1-1, query rows r0..r1-1 (all
    heads), each block's scores within L2_SCORE_BYTES; whole entries where
    one fits, else runs of query rows (at least one)."""
    per_entry = heads * s * s * 4
    if per_entry <= L2_SCORE_BYTES:
        step = L2_SCORE_BYTES // per_entry
        return [(i, min(i + step, hi), 0, s) for i in range(lo, hi, step)]
    rows = max(1, L2_SCORE_BYTES // (heads * s * 4))
    return [(i, i + 1, r, min(r + rows, s)) for i in range(lo, hi) for r in range(0, s, rows)]


def _core_parts(b: int, heads: int, s: int, d: int, limit: int) -> int:
    """Threads the attention core is split over (by batch entries): BLAS runs
    a product of under SMALL_GEMM multiply-adds on the calling thread, so
    such blocks run side by side; bigger ones keep BLAS's own threads."""
    return 1 if s * s * d >= SMALL_GEMM else split_threads(b * heads * s * s, limit, b)


def _add_biases(q: np.ndarray, k: np.ndarray, v: np.ndarray, bq: np.ndarray, bk: np.ndarray,
                bv: np.ndarray, scale: np.float32) -> None:
    """Q = (Q + bq) / sqrt(D), K += bk, V += bv, in place."""
    q += bq
    q *= scale
    k += bk
    v += bv


def _softmax(block: np.ndarray) -> None:
    """Softmax over the rows of a (rows, S) block, in place, as the Softmax op
    computes it, so that the fused op gives bit for bit the numbers of its
    primitive spelling."""
    Softmax._compute(block, block, block.ndim - 1)


def _attend(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None, context: np.ndarray,
            heads: int, lo: int, hi: int) -> None:
    """context[lo:hi] = softmax(Q K^T [+ mask]) V, head by head, block by
    block (score_blocks); q already scaled, every operand (B, S, E)."""
    s = q.shape[1]
    qh, kh, vh, ch = (_split_heads(t, heads) for t in (q, k, v, context))
    buffer = np.empty(L2_SCORE_BYTES // 4 + heads * s, dtype=np.float32)
    for b0, b1, r0, r1 in score_blocks(lo, hi, heads, s):
        scores = buffer[:(b1 - b0) * heads * (r1 - r0) * s].reshape(b1 - b0, heads, r1 - r0, s)
        np.matmul(qh[b0:b1, :, r0:r1], kh[b0:b1].transpose(0, 1, 3, 2), out=scores)
        if mask is not None:
            scores += mask[b0:b1, :, r0:r1]
        _softmax(scores.reshape(-1, s))
        np.matmul(scores, vh[b0:b1], out=ch[b0:b1, :, r0:r1])


class MultiHeadAttention(Op):
    """Multi-head scaled dot-product self-attention in one op.

    Inputs: x (B, S, E); wq, bq, wk, bk, wv, bv, wo, bo with every weight
    (E, E) stored (in, out) like Linear and every bias (E,); an optional
    additive mask of any shape that broadcasts (numpy rules) to (B, H, S, S),
    e.g. (S, S) causal or (B, 1, 1, S) key padding, holding 0 to keep and a
    large negative number (-1e9 or -inf) to drop; a row whose every score is
    -inf comes out NaN, as in ONNX's Softmax. Attribute num_heads H
    (required) divides E; D = E / H.

    Exact semantics (what an ONNX decomposition must reproduce):
        Q = x @ wq + bq, K = x @ wk + bk, V = x @ wv + bv          (B, S, E)
        head h owns columns h*D .. (h+1)*D - 1 of Q, K and V, i.e.
        Qh = Q.reshape(B, S, H, D).transpose(0, 2, 1, 3)             (B, H, S, D)
        scores = Qh @ Kh.transpose(0, 1, 3, 2) / sqrt(D) [+ mask]   (B, H, S, S)
        P = softmax(scores, axis=-1), computed stably as
            exp(scores - max) / sum(exp(scores - max))
        O = (P @ Vh).transpose(0, 2, 1, 3).reshape(B, S, E)
        y = O @ wo + bo                                              (B, S, E)
    The kernel scales Q by 1/sqrt(D) before the score product, which equals
    scaling the scores up to rounding.

    FLOPs (a multiply-add is 2):
        projections     4 * 2*B*S*E*E, plus 4 * B*S*E for the bias adds
        scaling         B*S*E (one multiply per element of Q)
        scores          2*B*S*S*E  (= 2*B*H*S*S*D)
        mask            B*H*S*S adds, only with a mask
        softmax         5 per score, 5*B*H*S*S (max compare, subtract, exp,
                        sum add, divide; the same count as the Softmax op)
        weighted sum    2*B*S*S*E
    Bytes: the default minimum traffic: x, the weights, biases and mask read
    once, y written once. The (B, H, S, S) scores are an implementation cost,
    not part of the minimum.

    How it runs: the four projections are one GEMM each over all B * S
    rows. The core never materializes every score: it walks blocks of
    batch entries (or, for long sequences, of query rows) whose scores fit
    L2_SCORE_BYTES, and per block runs the score product (BLAS reads each
    head's (S, D) slice of Q, K and V in place, rows E apart, no copies),
    the mask add, the softmax (numpy's, on the block in L2) and the
    weighted sum, written straight into the (B, S, E) layout the output
    projection reads. Batch entries are split over the engine's threads
    when the per-head products are small enough that BLAS runs them on the
    calling thread (SMALL_GEMM). The core (S 64, E 512, 8 heads, one
    thread, CPU time, medians of 12 on the loaded 2-core VM): 19.8 ms at
    batch 64 and 75.7 ms at batch 256, instead of 28.8 ms and 93.9 ms with
    every score materialized (8 and 32 MiB), with numpy's softmax; the
    compiled one the Softmax op now runs (norm_kernels.softmax_rows)
    measured 13.9 and 54.2 ms.
    """

    op_type = "MultiHeadAttention"
    multithreaded = True  # BLAS
    input_roles = ("input", "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo", "mask")
    min_inputs = 9
    attr_defaults = {"num_heads": None}

    @classmethod
    def _heads(cls, attrs: Mapping[str, Any], e: int) -> int:
        h = attrs.get("num_heads")
        if h is None:
            raise ShapeError("attribute num_heads is required")
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
            raise ShapeError(f"attribute num_heads must be an integer >= 1, got {h!r}")
        if e % h:
            raise ShapeError(f"attribute num_heads {h} does not divide the embedding size {e}")
        return int(h)

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        x = tuple(input_shapes[0])
        if len(x) != 3:
            raise ShapeError(f"{cls.label(0, names)} has shape {fmt_shape(x)} but must be 3-D (B, S, E)")
        b, s, e = x
        heads = cls._heads(attrs, e)
        for i in range(1, 9):
            want = (e, e) if i % 2 else (e,)
            cls.check_input_shape(i, input_shapes, want, f"{cls.label(0, names)} has shape {fmt_shape(x)}", names)
        if len(input_shapes) > 9:
            mask = tuple(input_shapes[9])
            scores = (b, heads, s, s)
            try:
                fits = np.broadcast_shapes(mask, scores) == scores
            except ValueError:
                fits = False
            if not fits:
                raise ShapeError(
                    f"{cls.label(9, names)} has shape {fmt_shape(mask)}, which does not broadcast to the "
                    f"scores' shape {fmt_shape(scores)} of {cls.label(0, names)} {fmt_shape(x)} with {heads} heads"
                )
        return (x,)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        x, wq, bq, wk, bk, wv, bv, wo, bo = inputs[:9]
        b, s, e = x.shape
        heads = cls._heads(attrs, e)
        d = e // heads
        q, k, v = (matmul(x, w) for w in (wq, wk, wv))
        mask = np.broadcast_to(inputs[9], (b, heads, s, s)) if len(inputs) > 9 else None
        context = np.empty((b, s, e), dtype=np.float32)
        scale = np.float32(1.0 / math.sqrt(d))

        def part(lo: int, hi: int) -> None:  # batch entries lo..hi-1, start to end, on one thread
            _add_biases(q[lo:hi], k[lo:hi], v[lo:hi], bq, bk, bv, scale)
            _attend(q, k, v, mask, context, heads, lo, hi)

        run_parts(part, b, _core_parts(b, heads, s, d, threads_allowed()) if b > 1 else 1)
        y = matmul(context, wo)
        y += bo
        return (y,)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        b, s, e = input_shapes[0]
        heads = cls._heads(attrs, e)
        tokens = b * s
        scores = b * heads * s * s
        total = 4 * 2 * tokens * e * e + 4 * tokens * e  # projections and their biases
        total += tokens * e  # 1/sqrt(D) scaling of Q
        total += 2 * b * s * s * e  # Q K^T
        total += 5 * scores  # softmax
        total += 2 * b * s * s * e  # P V
        if len(input_shapes) > 9:
            total += scores  # mask add
        return total

    @classmethod
    def kernel_bytes(cls, input_shapes: Shapes, output_shapes: Shapes, dtypes: Sequence[str],
                     attrs: Attrs) -> int | None:
        """The materialized intermediates of `run`, float32, each written once and
        read once plus every in-place pass over it (the engine's convention,
        whether a buffer stays in cache or not): Q (bias, scale: 6 passes of
        B*S*E), K and V (bias: 4 each), the context (written by the blocks,
        read by the output projection: 2), y's bias add (2), and the scores,
        one L2-sized block at a time (score_blocks): the product writes them,
        the weighted sum reads them, the softmax's max and sum read them and
        its subtract, exp and divide rewrite them (10 passes of B*H*S*S, 2
        more with a mask)."""
        b, s, e = input_shapes[0]
        heads = cls._heads(attrs, e)
        score_passes = 10 + (2 if len(input_shapes) > 9 else 0)
        extra = 4 * ((6 + 4 + 4 + 2 + 2) * b * s * e + score_passes * b * heads * s * s)
        return cls.bytes(input_shapes, output_shapes, dtypes) + extra


__all__ = ["MultiHeadAttention"]
