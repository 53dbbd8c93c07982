"""Elementwise activations."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.ops.base import Op, Shape, numel


class Relu(Op):
    """y = max(x, 0) into a fresh array (the input is never modified, so a
    tensor can feed several consumers). FLOPs: 1 per element (the compare)."""

    op_type = "Relu"
    input_roles = ("input",)

    @classmethod
    def infer_shape(
        cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any], names: Sequence[str] | None = None
    ) -> tuple[Shape, ...]:
        return (tuple(input_shapes[0]),)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        return (np.maximum(inputs[0], 0),)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        return numel(input_shapes[0])
