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

Threads: an output of at least 2 * MIN_ELEMENTS_PER_THREAD elements is cut
into row blocks (its first axis), one per thread under the engine's limit
(engine.ops.parallel); an operand that broadcasts along that axis is read
whole by every block.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from scipy import special

from engine.ops.base import (TENSOR_DTYPES, Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape,
                             numel)
from engine.ops import norm_kernels
from engine.ops.parallel import MIN_ELEMENTS_PER_THREAD, run_parts, split_threads, threads_for

Compute = Callable[..., object]  # compute(*operand blocks, out block)


def row_threads(shape: Shape, limit: int) -> int:
    """Threads an elementwise output of `shape` is split over (by rows) under `limit`."""
    return split_threads(numel(shape), limit, shape[0]) if shape else 1


def _rows(operand: np.ndarray, rank: int, lo: int, hi: int) -> np.ndarray:
    """The operand's part for output rows lo:hi; one that broadcasts along
    the first axis (size 1 there, or a lower rank) is needed whole."""
    return operand[lo:hi] if operand.ndim == rank and operand.shape[0] != 1 else operand


def split_rows(compute: Compute, out: np.ndarray, operands: Sequence[np.ndarray]) -> np.ndarray:
    """compute(*operands, out), by row blocks on the engine's threads when
    `out` is big enough (row_threads); returns out."""
    parts = threads_for(out.size, out.shape[0]) if out.ndim else 1
    if parts == 1:
        compute(*operands, out)
    else:
        run_parts(lambda lo, hi: compute(*(_rows(a, out.ndim, lo, hi) for a in operands), out[lo:hi]),
                  out.shape[0], parts)
    return out


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
        a, b = inputs
        if a.size < 2 * MIN_ELEMENTS_PER_THREAD and b.size < 2 * MIN_ELEMENTS_PER_THREAD:
            return (cls.ufunc(a, b),)  # too small to split: skip the output's set-up
        out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.result_type(a, b))
        return (split_rows(lambda x, y, o: cls.ufunc(x, y, out=o), out, inputs),)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        return numel(np.broadcast_shapes(tuple(input_shapes[0]), tuple(input_shapes[1])))

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        return row_threads(cls.infer_shape(input_shapes, attrs)[0], limit)


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
    """Same shape in and out, y = ufunc(x) into a fresh array (`compute`
    writes one block; FusedLinear applies it in place);
    `flops_per_element` as in the module docstring."""

    ufunc: ClassVar[np.ufunc]

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        return (tuple(input_shapes[0]),)

    @classmethod
    def compute(cls, x: np.ndarray, out: np.ndarray, attrs: Attrs) -> None:
        cls.ufunc(x, out=out)

    @classmethod
    def apply(cls, x: np.ndarray, out: np.ndarray, attrs: Attrs) -> np.ndarray:
        """compute over all of x into out (which may be x), on the engine's threads when big."""
        return split_rows(lambda a, o: cls.compute(a, o, attrs), out, [x])

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        return (cls.apply(inputs[0], np.empty_like(inputs[0]), attrs),)

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        return row_threads(tuple(input_shapes[0]), limit)


# exp(88) is within float32; clamping -x there keeps exp finite (no overflow
# warning) and changes nothing a float32 sigmoid can show: 1 / (1 + e^88) is 6e-39.
_EXP_CLAMP = np.float32(88.0)


class Sigmoid(Unary):
    """y = 1 / (1 + exp(-x)) with numpy's vectorized float32 exp (2.5x
    faster than scipy's expit on din's attention), -x clamped at 88 so
    exp cannot overflow."""

    op_type = "Sigmoid"
    flops_per_element = 4

    @classmethod
    def compute(cls, x: np.ndarray, out: np.ndarray, attrs: Attrs) -> None:
        np.negative(x, out=out)
        np.minimum(out, _EXP_CLAMP, out=out)
        np.exp(out, out=out)
        out += np.float32(1.0)
        np.reciprocal(out, out=out)


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
    def compute(cls, x: np.ndarray, out: np.ndarray, attrs: Attrs) -> None:
        if cls._approximate(attrs) == "tanh":
            np.multiply(x, x, out=out)
            out *= np.float32(0.044715)
            out += np.float32(1.0)
            out *= x
            out *= _SQRT_2_OVER_PI
            np.tanh(out, out=out)
        else:
            np.multiply(x, _SQRT_HALF, out=out)
            special.erf(out, out=out)
        out += np.float32(1.0)
        out *= x
        out *= np.float32(0.5)

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

    @staticmethod
    def _compute(x: np.ndarray, out: np.ndarray, axis: int) -> None:
        if axis == x.ndim - 1 and x.dtype == np.float32 and x.flags.c_contiguous and norm_kernels.AVAILABLE:
            rows = x.reshape(-1, x.shape[-1])  # one compiled pass a row: 3x numpy's three passes
            norm_kernels.softmax_rows(rows, out.reshape(rows.shape), 0, rows.shape[0])
            return
        np.subtract(x, x.max(axis=axis, keepdims=True), out=out)  # exp of a non-positive number cannot overflow
        np.exp(out, out=out)
        out /= out.sum(axis=axis, keepdims=True)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        x = inputs[0]
        axis = normalize_axis(attrs.get("axis", -1), x.ndim, "input")
        out = np.empty_like(x)
        if axis == 0:  # the rows are what is normalized: no split
            cls._compute(x, out, axis)
            return (out,)
        return (split_rows(lambda a, o: cls._compute(a, o, axis), out, [x]),)

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        shape = tuple(input_shapes[0])
        axis = normalize_axis(attrs.get("axis", -1), len(shape), "input")
        return 1 if axis == 0 else row_threads(shape, limit)
