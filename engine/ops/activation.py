"""Elementwise activations."""
from __future__ import annotations

import numpy as np

from engine.ops.base import Attrs
from engine.ops.elementwise import Unary


class Relu(Unary):
    """y = max(x, 0) into a fresh array (the input is never modified, so a
    tensor can feed several consumers). FLOPs: 1 per element (the compare)."""

    op_type = "Relu"
    flops_per_element = 1

    @classmethod
    def compute(cls, x: np.ndarray, out: np.ndarray, attrs: Attrs) -> None:
        np.maximum(x, 0, out=out)
