"""The op contract every kernel module implements.

An op is a stateless class: the graph stores the op type and attributes on a
node, and the registry maps the type to the class. Shapes are tuples of ints;
dtypes are numpy dtype names ("float32").
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

Shape = tuple[int, ...]
# The infer_shape signature's parts, so each op's override fits on one line.
Shapes = Sequence[Shape]
Attrs = Mapping[str, Any]
Names = Sequence[str] | None  # the inputs' tensor names, for error messages
# Every dtype a tensor of the engine may have; ops that only move data take them all.
TENSOR_DTYPES = ("float32", "float16", "int64", "int32")


class ShapeError(ValueError):
    """Inputs or attributes an op cannot accept. The message names the
    offending tensors; the graph prefixes it with the node."""


def numel(shape: Shape) -> int:
    return math.prod(shape)


def fmt_shape(shape: Shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


def stored_bytes(shapes: Sequence[Shape], dtypes: Sequence[str]) -> int:
    """Bytes of tensors of these shapes, each at its dtype's itemsize."""
    return sum(numel(s) * np.dtype(dt).itemsize for s, dt in zip(shapes, dtypes))


class Op:
    """Base class. Subclasses set the class attributes and implement
    `infer_shape` and `run`; they override the other methods only where the
    defaults below do not describe them:

    - `infer_dtype` checks each input against `input_dtypes` (per input) or
      `dtypes` (every other input) and returns `output_dtypes`, or the first
      input's dtype for every output;
    - `flops` is `flops_per_element` per element of the first input (0: the
      op only moves data); an op that states neither is refused, never
      counted as 0;
    - `bytes` is reading every input once and writing every output once, the
      minimum traffic of any op that touches all its operands; with
      `copies_output`, reading and writing each output element (an op that
      copies exactly its output, such as Transpose);
    - `threads` is the engine's thread limit for a `multithreaded` op (BLAS,
      or a kernel that splits its work over that many threads), else 1: the
      layer is judged against that many threads' roofs;
    - `gathered` is empty: the op streams its operands. A lookup lists the
      rows it reads at random (row bytes, bytes read), which are judged
      against the gather roof at that row size (engine.layer_roof);
    - `kernel_bytes` is None: the kernel moves just `bytes`. A kernel that
      materializes more (weights converted on every call, an im2col buffer,
      attention scores) counts each such buffer written once and read once,
      and each extra in-place pass over a tensor as a read and a write."""

    op_type: ClassVar[str] = ""
    # Names of the positional inputs, used in error messages ("weight 'fc1.weight'").
    input_roles: ClassVar[tuple[str, ...]] = ("input",)
    # Inputs beyond the first `min_inputs` are optional (e.g. a bias).
    min_inputs: ClassVar[int] = 1
    num_outputs: ClassVar[int] = 1
    attr_defaults: ClassVar[Mapping[str, Any]] = {}
    # Accepted dtypes of the inputs `input_dtypes` does not name.
    dtypes: ClassVar[tuple[str, ...]] = ("float32",)
    # Accepted dtypes per input position, each a dtype or a tuple of them.
    input_dtypes: ClassVar[tuple[str | tuple[str, ...], ...]] = ()
    # Dtype of each output; empty: the first input's dtype for all of them.
    output_dtypes: ClassVar[tuple[str, ...]] = ()
    # The error for an input of another dtype; fields input, dtype, op, allowed.
    dtype_error: ClassVar[str] = "{input} has dtype {dtype} but {op} computes in {allowed}"
    flops_per_element: ClassVar[int | None] = None
    copies_output: ClassVar[bool] = False
    multithreaded: ClassVar[bool] = False

    @classmethod
    def label(cls, index: int, names: Sequence[str] | None) -> str:
        """'weight 'fc2.weight'' for error messages, or just the role without names."""
        role = cls.input_roles[index] if index < len(cls.input_roles) else f"input #{index}"
        return f"{role} {names[index]!r}" if names is not None else role

    @classmethod
    def check_input_shape(cls, index: int, input_shapes: Sequence[Shape], want: Shape, reason: str,
                          names: Sequence[str] | None) -> None:
        """A ShapeError unless input `index`, where given, has shape `want`;
        `reason` names what decides it ("weight 'w' has out_features 8")."""
        if index < len(input_shapes) and tuple(input_shapes[index]) != tuple(want):
            raise ShapeError(
                f"{cls.label(index, names)} has shape {fmt_shape(tuple(input_shapes[index]))} but {reason}, "
                f"so it must be {fmt_shape(tuple(want))}"
            )

    @classmethod
    def check_arity(cls, n_inputs: int, n_outputs: int) -> None:
        lo, hi = cls.min_inputs, len(cls.input_roles)
        if not lo <= n_inputs <= hi:
            expected = str(lo) if lo == hi else f"{lo} to {hi}"
            raise ShapeError(
                f"takes {expected} inputs ({', '.join(cls.input_roles)}), got {n_inputs}"
            )
        if n_outputs != cls.num_outputs:
            raise ShapeError(f"produces {cls.num_outputs} outputs, got {n_outputs} output names")

    @classmethod
    def resolve_attrs(cls, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults overlaid with `attrs`; unknown names are an error."""
        unknown = sorted(set(attrs) - set(cls.attr_defaults))
        if unknown:
            allowed = ", ".join(sorted(cls.attr_defaults)) or "none"
            raise ShapeError(f"unknown attribute(s) {', '.join(unknown)}; allowed: {allowed}")
        return {**cls.attr_defaults, **attrs}

    @classmethod
    def infer_dtype(
        cls, input_dtypes: Sequence[str], attrs: Mapping[str, Any], names: Sequence[str] | None = None
    ) -> tuple[str, ...]:
        for i, dt in enumerate(input_dtypes):
            allowed = cls.input_dtypes[i] if i < len(cls.input_dtypes) else cls.dtypes
            allowed = (allowed,) if isinstance(allowed, str) else allowed
            if dt not in allowed:
                raise ShapeError(cls.dtype_error.format(
                    input=cls.label(i, names), dtype=dt, op=cls.op_type, allowed=" or ".join(allowed)))
        return cls.output_dtypes or (input_dtypes[0],) * cls.num_outputs

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        raise NotImplementedError(f"{cls.__name__}.infer_shape")

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        raise NotImplementedError(f"{cls.__name__}.run")

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        if cls.flops_per_element is None:
            raise NotImplementedError(f"{cls.op_type} states neither flops nor flops_per_element")
        return cls.flops_per_element * numel(input_shapes[0])

    @classmethod
    def bytes(
        cls, input_shapes: Sequence[Shape], output_shapes: Sequence[Shape], dtypes: Sequence[str]
    ) -> int:
        """Minimum memory traffic. `dtypes` holds one dtype per input followed
        by one per output, at the precision each tensor is stored in."""
        shapes = [*input_shapes, *output_shapes]
        if len(dtypes) != len(shapes):
            raise ValueError(
                f"{cls.op_type}.bytes: got {len(dtypes)} dtypes for {len(input_shapes)} inputs "
                f"and {len(output_shapes)} outputs"
            )
        if cls.copies_output:
            return 2 * stored_bytes(output_shapes, dtypes[len(input_shapes):])
        return stored_bytes(shapes, dtypes)

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        """How many threads the kernel runs on under the engine's thread `limit`."""
        return limit if cls.multithreaded else 1

    @classmethod
    def gathered(cls, input_shapes: Shapes, dtypes: Sequence[str], attrs: Attrs) -> list[tuple[int, int]]:
        """(row bytes, bytes read) of each table whose rows the kernel reads at random."""
        return []

    @classmethod
    def kernel_bytes(cls, input_shapes: Shapes, output_shapes: Shapes, dtypes: Sequence[str],
                     attrs: Attrs) -> int | None:
        """What the kernel really moves where that is more than `bytes`; None: just the minimum."""
        return None
