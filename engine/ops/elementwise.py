"""Elementwise arithmetic, activations and Softmax, with ONNX semantics.

FLOP counts are per output element and count one FLOP per arithmetic
operation of the formula below, a transcendental function (exp, erf, tanh)
counting as one. They are a convention for comparing runs, not a claim about
how many instructions libm spends:

    Add, Sub, Mul, Div        1
    Sigmoid  1 / (1 + exp(-x))                                   4  (neg, exp, add, div)
    Tanh     1 - 2 / (exp(2x) + 1)                               5  (mul, exp, add, div, sub)
    Gelu "none"  0.5 * x * (1 + erf(x / sqrt(2)))                5  (div, erf, add, mul, mul)
    Gelu "tanh"  0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
                                                                 9  (2 mul for x^3, mul, add,
                                                                     mul, tanh, add, mul, mul)
    Softmax  exp(x - max) / sum                                  5  (max compare, sub, exp,
                                                                     sum add, div)

Bytes are the default of every op: each input read once, the output written once.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from scipy import special

from engine.ops.base import (TENSOR_DTYPES, Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape,
                             numel)


class _Binary(Op):
    """Two inputs with numpy (= ONNX multidirectional) broadcasting."""

    input_roles = ("a", "b")
    min_inputs = 2
    dtypes = TENSOR_DTYPES
    ufunc: ClassVar[np.ufunc]

    @classmethod
    def infer_dtype(
        cls, input_dtypes: Sequence[str], attrs: Mapping[str, Any], names: Sequence[str] | None = None
    ) -> tuple[str, ...]:
        (out,) = super().infer_dtype(input_dtypes, attrs, names)
        if input_dtypes[0] != input_dtypes[1]:
            raise ShapeError(
                f"{cls.label(0, names)} is {input_dtypes[0]} but {cls.label(1, names)} is "
                f"{input_dtypes[1]}; {cls.op_type} needs both of the same dtype"
            )
        return (out,)

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        a, b = input_shapes
        try:
            return (tuple(np.broadcast_shapes(tuple(a), tuple(b))),)
        except ValueError:
            raise ShapeError(
                f"{cls.label(0, names)} has shape {fmt_shape(a)} and {cls.label(1, names)} has shape "
                f"{fmt_shape(b)}; they do not broadcast"
            ) from None

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        return (cls.ufunc(inputs[0], inputs[1]),)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        return numel(np.broadcast_shapes(tuple(input_shapes[0]), tuple(input_shapes[1])))


class Add(_Binary):
    """y = a + b."""

    op_type = "Add"
    ufunc = np.add


class Sub(_Binary):
    """y = a - b."""

    op_type = "Sub"
    ufunc = np.subtract


class Mul(_Binary):
    """y = a * b."""

    op_type = "Mul"
    ufunc = np.multiply


class Div(_Binary):
    """y = a / b, floats only (ONNX's integer Div truncates; nothing here needs it)."""

    op_type = "Div"
    dtypes = ("float32", "float16")
    ufunc = np.divide


class Unary(Op):
    """Same shape in and out, y = ufunc(x) into a fresh array;
    `flops_per_element` as in the module docstring."""

    ufunc: ClassVar[np.ufunc]

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        return (tuple(input_shapes[0]),)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        return (cls.ufunc(inputs[0]),)


class Sigmoid(Unary):
    """y = 1 / (1 + exp(-x)), overflow-free (scipy's expit)."""

    op_type = "Sigmoid"
    flops_per_element = 4
    ufunc = special.expit


class Tanh(Unary):
    op_type = "Tanh"
    flops_per_element = 5
    ufunc = np.tanh


GELU_APPROXIMATIONS = ("none", "tanh")
_SQRT_HALF = np.float32(math.sqrt(0.5))
_SQRT_2_OVER_PI = np.float32(math.sqrt(2.0 / math.pi))


class Gelu(Unary):
    """ONNX Gelu (opset 20): exact with erf, or the tanh approximation."""

    op_type = "Gelu"
    attr_defaults = {"approximate": "none"}

    @classmethod
    def _approximate(cls, attrs: Mapping[str, Any]) -> str:
        mode = attrs.get("approximate", "none")
        if mode not in GELU_APPROXIMATIONS:
            raise ShapeError(
                f"attribute approximate is {mode!r}; expected one of {', '.join(map(repr, GELU_APPROXIMATIONS))}"
            )
        return mode

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        cls._approximate(attrs)
        return super().infer_shape(input_shapes, attrs, names)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        x = inputs[0]
        if cls._approximate(attrs) == "tanh":
            inner = x * x
            inner *= np.float32(0.044715)
            inner += np.float32(1.0)
            inner *= x
            inner *= _SQRT_2_OVER_PI
            y = np.tanh(inner, out=inner)
        else:
            y = special.erf(x * _SQRT_HALF)
        y += np.float32(1.0)
        y *= x
        y *= np.float32(0.5)
        return (y,)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        per = 9 if cls._approximate(attrs) == "tanh" else 5
        return per * numel(input_shapes[0])


def normalize_axis(axis: Any, rank: int, what: str) -> int:
    """`axis` in [-rank, rank) as a non-negative index, or a ShapeError naming `what`."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ShapeError(f"attribute axis must be an integer, got {axis!r}")
    if not -rank <= axis < rank:
        raise ShapeError(f"attribute axis {axis} is out of range for {what} of rank {rank}")
    return int(axis) % rank


class Softmax(Op):
    """ONNX Softmax (opset 13): exp(x - max) / sum(exp(x - max)) along `axis`."""

    op_type = "Softmax"
    attr_defaults = {"axis": -1}
    flops_per_element = 5

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        x = tuple(input_shapes[0])
        if not x:
            raise ShapeError(f"{cls.label(0, names)} is a scalar; Softmax needs at least one axis")
        normalize_axis(attrs.get("axis", -1), len(x), cls.label(0, names))
        return (x,)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        x = inputs[0]
        axis = normalize_axis(attrs.get("axis", -1), x.ndim, "input")
        y = x - x.max(axis=axis, keepdims=True)  # exp of a non-positive number cannot overflow
        np.exp(y, out=y)
        y /= y.sum(axis=axis, keepdims=True)
        return (y,)
