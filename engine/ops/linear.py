"""Fully connected layers."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.ops.base import Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape, numel
from engine.ops.matmul import matmul


class Linear(Op):
    """y = x @ W + b over the last axis of x.

    W is stored (in_features, out_features) so that for a row-major x numpy
    hands both operands to sgemm without a transpose or a copy. The bias is
    optional. FLOPs: 2 per multiply-add (2*M*K*N) plus 1 per output element
    for the bias add when there is a bias.
    """

    op_type = "Linear"
    multithreaded = True  # BLAS
    input_roles = ("input", "weight", "bias")
    min_inputs = 2

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        x, w = input_shapes[0], input_shapes[1]
        if len(w) != 2:
            raise ShapeError(
                f"{cls.label(1, names)} has shape {fmt_shape(w)} but must be 2-D (in_features, out_features)"
            )
        if len(x) < 1:
            raise ShapeError(f"{cls.label(0, names)} is a scalar but must have a feature axis")
        k, n = w
        if x[-1] != k:
            raise ShapeError(
                f"{cls.label(0, names)} has shape {fmt_shape(x)} but {cls.label(1, names)} "
                f"expects in_features {k}"
            )
        cls.check_input_shape(2, input_shapes, (n,), f"{cls.label(1, names)} has out_features {n}", names)
        return (tuple(x[:-1]) + (n,),)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        # One GEMM over all leading axes of an N-D x: numpy's matmul would run one
        # small sgemm per leading index (din's (64, 50, 256) input: 1.6x slower).
        y = matmul(inputs[0], inputs[1])
        if len(inputs) > 2:
            np.add(y, inputs[2], out=y)
        return (y,)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        x, (k, n) = input_shapes[0], input_shapes[1]
        m = numel(x[:-1])
        return 2 * m * k * n + (m * n if len(input_shapes) > 2 else 0)
