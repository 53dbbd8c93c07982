"""Fused multi-head self-attention."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.ops.base import Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape


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

        def split_heads(t: np.ndarray) -> np.ndarray:  # (B, S, E) -> (B, H, S, D), a view
            return t.reshape(b, s, heads, d).transpose(0, 2, 1, 3)

        q = x @ wq
        q += bq
        q *= np.float32(1.0 / math.sqrt(d))
        k = x @ wk
        k += bk
        v = x @ wv
        v += bv
        scores = split_heads(q) @ split_heads(k).transpose(0, 1, 3, 2)
        if len(inputs) > 9:
            scores += inputs[9]
        scores -= scores.max(axis=-1, keepdims=True)  # exp of a non-positive number cannot overflow
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        heads_out = scores @ split_heads(v)  # (B, H, S, D)
        y = heads_out.transpose(0, 2, 1, 3).reshape(b, s, e) @ wo
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
        read once plus every in-place pass over it: Q (bias, scale: 6 passes of
        B*S*E), K and V (bias: 4 each), the heads' output (copied back to
        (B, S, E): 4) and the scores (B*H*S*S: the max and the sum read them,
        subtract, exp and divide rewrite them: 10, and 2 more for a mask add)."""
        b, s, e = input_shapes[0]
        heads = cls._heads(attrs, e)
        score_passes = 10 + (2 if len(input_shapes) > 9 else 0)
        extra = 4 * ((6 + 4 + 4 + 4) * b * s * e + score_passes * b * heads * s * s)
        return cls.bytes(input_shapes, output_shapes, dtypes) + extra


__all__ = ["MultiHeadAttention"]
