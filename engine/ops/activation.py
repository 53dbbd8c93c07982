"""Elementwise activations."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.ops.elementwise import Unary


class Relu(Unary):
    """y = max(x, 0) into a fresh array (the input is never modified, so a
    tensor can feed several consumers). FLOPs: 1 per element (the compare)."""

    op_type = "Relu"
    flops_per_element = 1

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        return (np.maximum(inputs[0], 0),)
