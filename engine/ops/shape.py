"""Shape ops with ONNX semantics: Concat, Reshape, Transpose, Slice, Gather.

They compute nothing: FLOPs are 0. Bytes are what they move:
- Reshape returns a view of a contiguous input, so it moves 0 bytes.
- Transpose, Concat and Slice return a fresh contiguous array: they read what
  they copy and write it once (2 x output bytes; for Concat that equals
  inputs + output).
- Gather reads the indices and only the gathered elements of `data`, and
  writes the output: indices + 2 x output bytes.
Ops never write into their inputs, so a view output is safe to share.

Threads: Concat (along an axis past the first) and Gather split a big output
into row blocks over the engine's threads, as the elementwise ops do.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.ops.base import (TENSOR_DTYPES, Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape, numel,
                             stored_bytes)
from engine.ops.elementwise import normalize_axis, row_threads, split_rows
from engine.ops.parallel import MIN_ELEMENTS_PER_THREAD, run_parts, threads_for

INDEX_DTYPES = ("int64", "int32")


class VariadicOp(Op):
    """An op taking `min_inputs` or more inputs of one kind (Concat's tensors,
    DotInteraction's features). Inputs past the named roles are labelled by
    position."""

    max_inputs = 4096
    variadic_role = "input"

    @classmethod
    def label(cls, index: int, names: Sequence[str] | None) -> str:
        role = cls.input_roles[index] if index < len(cls.input_roles) else f"{cls.variadic_role} #{index}"
        return f"{role} {names[index]!r}" if names is not None else role

    @classmethod
    def check_arity(cls, n_inputs: int, n_outputs: int) -> None:
        if not cls.min_inputs <= n_inputs <= cls.max_inputs:
            raise ShapeError(f"takes {cls.min_inputs} to {cls.max_inputs} inputs, got {n_inputs}")
        if n_outputs != cls.num_outputs:
            raise ShapeError(f"produces {cls.num_outputs} outputs, got {n_outputs} output names")


def _int_tuple(value: Any, attr: str) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ShapeError(f"attribute {attr} must be a list of integers, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ShapeError(f"attribute {attr} must be a list of integers, got {list(value)!r}")
        out.append(int(v))
    return tuple(out)


class Concat(VariadicOp):
    """Join tensors of one rank and dtype along `axis` (required, may be negative)."""

    op_type = "Concat"
    flops_per_element = 0  # moves data only
    input_roles = ()
    attr_defaults = {"axis": None}
    dtypes = TENSOR_DTYPES
    copies_output = True

    @classmethod
    def _axis(cls, attrs: Mapping[str, Any], rank: int) -> int:
        if attrs.get("axis") is None:
            raise ShapeError("attribute axis is required")
        return normalize_axis(attrs["axis"], rank, "the inputs")

    @classmethod
    def infer_dtype(
        cls, input_dtypes: Sequence[str], attrs: Mapping[str, Any], names: Sequence[str] | None = None
    ) -> tuple[str, ...]:
        super().infer_dtype(input_dtypes, attrs, names)
        for i, dt in enumerate(input_dtypes):
            if dt != input_dtypes[0]:
                raise ShapeError(
                    f"{cls.label(i, names)} is {dt} but {cls.label(0, names)} is {input_dtypes[0]}; "
                    "Concat needs one dtype"
                )
        return (input_dtypes[0],)

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        first = tuple(input_shapes[0])
        if not first:
            raise ShapeError(f"{cls.label(0, names)} is a scalar; Concat needs at least 1-D inputs")
        axis = cls._axis(attrs, len(first))
        total = 0
        for i, shape in enumerate(input_shapes):
            shape = tuple(shape)
            other = shape[:axis] + shape[axis + 1:]
            if len(shape) != len(first) or other != first[:axis] + first[axis + 1:]:
                raise ShapeError(
                    f"{cls.label(i, names)} has shape {fmt_shape(shape)} but {cls.label(0, names)} has "
                    f"{fmt_shape(first)}; all dimensions but axis {axis} must match"
                )
            total += shape[axis]
        return (first[:axis] + (total,) + first[axis + 1:],)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        axis = cls._axis(attrs, inputs[0].ndim)
        if axis == 0 or sum(a.size for a in inputs) < 2 * MIN_ELEMENTS_PER_THREAD:
            return (np.concatenate(inputs, axis=axis),)
        (shape,) = cls.infer_shape([a.shape for a in inputs], attrs)
        out = np.empty(shape, dtype=inputs[0].dtype)
        return (split_rows(lambda *blocks: np.concatenate(blocks[:-1], axis=axis, out=blocks[-1]), out, inputs),)

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        (shape,) = cls.infer_shape(input_shapes, attrs)
        return 1 if cls._axis(attrs, len(shape)) == 0 else row_threads(shape, limit)


class Reshape(Op):
    """ONNX Reshape with the target `shape` as an attribute (not a tensor): at
    most one -1, inferred from the element count; 0 is not special (ONNX
    allowzero=1 without zero-size tensors), so every other entry must be > 0."""

    op_type = "Reshape"
    flops_per_element = 0  # moves data only
    attr_defaults = {"shape": None}
    dtypes = TENSOR_DTYPES

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        if attrs.get("shape") is None:
            raise ShapeError("attribute shape is required")
        target = _int_tuple(attrs["shape"], "shape")
        x = tuple(input_shapes[0])
        if target.count(-1) > 1 or any(d < -1 or d == 0 for d in target):
            raise ShapeError(
                f"attribute shape {list(target)} must hold positive sizes and at most one -1"
            )
        known = numel(tuple(d for d in target if d != -1))
        if -1 in target:
            if numel(x) % known:
                raise ShapeError(
                    f"{cls.label(0, names)} has shape {fmt_shape(x)} ({numel(x)} elements), which "
                    f"shape {list(target)} cannot hold"
                )
            target = tuple(numel(x) // known if d == -1 else d for d in target)
        elif known != numel(x):
            raise ShapeError(
                f"{cls.label(0, names)} has shape {fmt_shape(x)} ({numel(x)} elements) but shape "
                f"{list(target)} holds {known}"
            )
        return (target,)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        return (inputs[0].reshape(attrs["shape"]),)  # the method: 0.25 us against np.reshape's 1.2

    @classmethod
    def bytes(
        cls, input_shapes: Sequence[Shape], output_shapes: Sequence[Shape], dtypes: Sequence[str]
    ) -> int:
        return 0


class Transpose(Op):
    """Permute axes; `perm` defaults to reversing them (as ONNX). The output is
    a contiguous copy, so later ops read it at full speed."""

    op_type = "Transpose"
    flops_per_element = 0  # moves data only
    attr_defaults = {"perm": None}
    dtypes = TENSOR_DTYPES
    copies_output = True

    @classmethod
    def _perm(cls, attrs: Mapping[str, Any], rank: int) -> tuple[int, ...]:
        if attrs.get("perm") is None:
            return tuple(reversed(range(rank)))
        perm = _int_tuple(attrs["perm"], "perm")
        if sorted(perm) != list(range(rank)):
            raise ShapeError(f"attribute perm {list(perm)} is not a permutation of the {rank} axes")
        return perm

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        x = tuple(input_shapes[0])
        try:
            perm = cls._perm(attrs, len(x))
        except ShapeError as e:
            raise ShapeError(f"{e} of {cls.label(0, names)} {fmt_shape(x)}") from None
        return (tuple(x[p] for p in perm),)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        x = inputs[0]
        return (np.ascontiguousarray(np.transpose(x, cls._perm(attrs, x.ndim))),)


class Slice(Op):
    """ONNX Slice with constant `starts`, `ends`, `axes` attributes and steps of
    1. Negative starts/ends count from the end and both are clamped to the
    axis, as ONNX; `axes` defaults to the first len(starts) axes. An empty
    result is an error (the engine has no zero-size tensors)."""

    op_type = "Slice"
    flops_per_element = 0  # moves data only
    attr_defaults = {"starts": None, "ends": None, "axes": None}
    dtypes = TENSOR_DTYPES
    copies_output = True

    @classmethod
    def _bounds(cls, attrs: Mapping[str, Any], shape: Shape, label: str) -> tuple[slice, ...]:
        if attrs.get("starts") is None or attrs.get("ends") is None:
            raise ShapeError("attributes starts and ends are required")
        starts, ends = _int_tuple(attrs["starts"], "starts"), _int_tuple(attrs["ends"], "ends")
        axes = (tuple(range(len(starts))) if attrs.get("axes") is None
                else _int_tuple(attrs["axes"], "axes"))
        if not len(starts) == len(ends) == len(axes):
            raise ShapeError(
                f"attributes starts, ends and axes have lengths {len(starts)}, {len(ends)}, {len(axes)}; "
                "they must be equal"
            )
        norm = [normalize_axis(a, len(shape), label) for a in axes]
        if len(set(norm)) != len(norm):
            raise ShapeError(f"attribute axes {list(axes)} names an axis twice")
        index = [slice(None)] * len(shape)
        for axis, start, end in zip(norm, starts, ends):
            size = shape[axis]
            lo = min(max(start + size if start < 0 else start, 0), size)
            hi = min(max(end + size if end < 0 else end, 0), size)
            if hi <= lo:
                raise ShapeError(
                    f"slice [{start}:{end}] of axis {axis} of {label} {fmt_shape(shape)} is empty"
                )
            index[axis] = slice(lo, hi)
        return tuple(index)

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        x = tuple(input_shapes[0])
        index = cls._bounds(attrs, x, cls.label(0, names))
        return (tuple(len(range(*s.indices(d))) for s, d in zip(index, x)),)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        x = inputs[0]
        return (np.ascontiguousarray(x[cls._bounds(attrs, x.shape, "input")]),)


def check_index_range(indices: np.ndarray, size: int, what: str, *, negative_ok: bool) -> None:
    """Raise ValueError naming `what`, the first bad value and its position."""
    if indices.size == 0:
        return
    lo = -size if negative_ok else 0
    lo_v, hi_v = int(indices.min()), int(indices.max())
    if lo_v >= lo and hi_v < size:
        return
    bad = np.flatnonzero((indices.ravel() < lo) | (indices.ravel() >= size))[0]
    allowed = f"[{lo}, {size})"
    raise ValueError(
        f"{what}: index {int(indices.ravel()[bad])} at position {int(bad)} is out of range {allowed}"
    )


class Gather(Op):
    """ONNX Gather: take `indices` (int64 or int32, negative counting from the
    end) along `axis` of `data`; out shape = data[:axis] + indices + data[axis+1:]."""

    op_type = "Gather"
    flops_per_element = 0  # moves data only
    input_roles = ("data", "indices")
    min_inputs = 2
    attr_defaults = {"axis": 0}
    input_dtypes = (TENSOR_DTYPES, INDEX_DTYPES)
    dtype_error = "{input} has dtype {dtype} but must be {allowed}"
    copies_output = True

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        data, idx = tuple(input_shapes[0]), tuple(input_shapes[1])
        if not data:
            raise ShapeError(f"{cls.label(0, names)} is a scalar; Gather needs at least 1-D data")
        axis = normalize_axis(attrs.get("axis", 0), len(data), cls.label(0, names))
        return (data[:axis] + idx + data[axis + 1:],)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        data, idx = inputs
        axis = normalize_axis(attrs.get("axis", 0), data.ndim, "data")
        check_index_range(idx, data.shape[axis], f"Gather indices into data axis {axis} of size "
                          f"{data.shape[axis]}", negative_ok=True)
        if not cls._splits(data.shape, idx.shape, axis):
            return (np.take(data, idx, axis=axis),)
        out = np.empty(data.shape[:axis] + idx.shape + data.shape[axis + 1:], dtype=data.dtype)
        # the range is checked, so "wrap" only maps negative indices (and, unlike "raise", takes no buffer)
        parts = threads_for(out.size, out.shape[0])
        if axis == 0:  # row blocks of the output are row blocks of the indices
            run_parts(lambda lo, hi: np.take(data, idx[lo:hi], axis=0, out=out[lo:hi], mode="wrap"),
                      out.shape[0], parts)
        else:  # ... or of the data
            run_parts(lambda lo, hi: np.take(data[lo:hi], idx, axis=axis, out=out[lo:hi], mode="wrap"),
                      out.shape[0], parts)
        return (out,)

    @staticmethod
    def _splits(data: Shape, idx: Shape, axis: int) -> bool:
        """Whether the output's rows can be cut into blocks: big enough, and
        along axis 0 with indices that have a first axis of their own."""
        return (axis > 0 or len(idx) > 0) and numel(data[:axis] + idx + data[axis + 1:]) >= 2 * MIN_ELEMENTS_PER_THREAD

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        data, idx = tuple(input_shapes[0]), tuple(input_shapes[1])
        axis = normalize_axis(attrs.get("axis", 0), len(data), "data")
        if not cls._splits(data, idx, axis):
            return 1
        return row_threads(data[:axis] + idx + data[axis + 1:], limit)

    @classmethod
    def bytes(
        cls, input_shapes: Sequence[Shape], output_shapes: Sequence[Shape], dtypes: Sequence[str]
    ) -> int:
        # the copied output, plus the indices read
        return super().bytes(input_shapes, output_shapes, dtypes) + stored_bytes(input_shapes[1:2], dtypes[1:2])

    @classmethod
    def gathered(cls, input_shapes: Shapes, dtypes: Sequence[str], attrs: Attrs) -> list[tuple[int, int]]:
        """Along axis 0 (an embedding-style lookup), one row of data per index: the
        read half of the copied output. Along another axis the op streams."""
        data, idx = tuple(input_shapes[0]), tuple(input_shapes[1])
        if normalize_axis(attrs.get("axis", 0), len(data), "data") != 0:
            return []
        row = numel(data[1:]) * np.dtype(dtypes[0]).itemsize
        return [(row, numel(idx) * row)]
