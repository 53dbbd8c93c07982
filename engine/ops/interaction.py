"""DLRM's dot interaction without self-interaction (facebookresearch/dlrm,
interact_features with arch_interaction_op="dot", itself=False).

Inputs: the dense feature x (B, d) -- the bottom MLP's output -- then the T
pooled embeddings, each (B, d), as separate inputs (what an exporter sees
before the concat). With Z = stack(x, e_1..e_T) of shape (B, T+1, d) and the
Gram matrix G = Z @ Z^T, the output is concat(x, G[:, i, j] for i > j) of
width d + (T+1)*T/2, pairs in row-major order of the strictly lower triangle
(i ascending, then j), as the reference code's li/lj index lists.

With numba importable a compiled kernel computes just the triangle, one dot
product per pair (engine.ops.interaction_kernels); without it numpy computes
the whole batched Gram matrix and gathers the triangle.

FLOPs: 2 * B * d per pair kept, (T+1)*T/2 pairs: the interaction's own work
(the numpy path computes the full Gram matrix, about twice that, but the
op's work is the same whichever kernel runs). Bytes: the inputs read once and the output written once; the
stacked copy and the Gram matrix are cache-resident scratch and not counted.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.ops import interaction_kernels
from engine.ops.base import Attrs, Names, Shape, ShapeError, Shapes, fmt_shape
from engine.ops.shape import VariadicOp


def interaction_width(num_features: int, dim: int) -> int:
    """Output width for `num_features` = T+1 inputs of width `dim`."""
    return dim + num_features * (num_features - 1) // 2


class DotInteraction(VariadicOp):
    op_type = "DotInteraction"
    input_roles = ("dense",)
    variadic_role = "embedding"
    min_inputs = 2
    max_inputs = 1024

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        dense = tuple(input_shapes[0])
        if len(dense) != 2:
            raise ShapeError(f"{cls.label(0, names)} has shape {fmt_shape(dense)} but must be 2-D (batch, dim)")
        for i, shape in enumerate(input_shapes[1:], start=1):
            if tuple(shape) != dense:
                raise ShapeError(
                    f"{cls.label(i, names)} has shape {fmt_shape(tuple(shape))} but {cls.label(0, names)} "
                    f"has {fmt_shape(dense)}; every input must be (batch, dim) alike"
                )
        batch, dim = dense
        return ((batch, interaction_width(len(input_shapes), dim)),)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        dense = inputs[0]
        batch, dim = dense.shape
        f = len(inputs)
        z = np.stack(inputs, axis=1)  # (B, F, d)
        out = np.empty((batch, interaction_width(f, dim)), dtype=dense.dtype)
        if interaction_kernels.AVAILABLE:
            interaction_kernels.interact(z, out)
            return (out,)
        gram = np.matmul(z, z.transpose(0, 2, 1))  # (B, F, F)
        li, lj = np.tril_indices(f, -1)
        out[:, :dim] = dense
        out[:, dim:] = gram.reshape(batch, f * f)[:, li * f + lj]
        return (out,)

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        return 1 if interaction_kernels.AVAILABLE else limit  # the compiled kernel, or a BLAS batched matmul

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        batch, dim = input_shapes[0]
        f = len(input_shapes)
        return 2 * batch * dim * (f * (f - 1) // 2)
