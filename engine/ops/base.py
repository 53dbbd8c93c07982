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


class ShapeError(ValueError):
    """Inputs or attributes an op cannot accept. The message names the
    offending tensors; the graph prefixes it with the node."""


def numel(shape: Shape) -> int:
    return math.prod(shape)


def fmt_shape(shape: Shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


class Op:
    """Base class. Subclasses set the class attributes and implement
    `infer_shape`, `run` and `flops`; `bytes` defaults to reading every input
    once and writing every output once, which is the minimum traffic of any
    op that touches all its operands."""

    op_type: ClassVar[str] = ""
    # Names of the positional inputs, used in error messages ("weight 'fc1.weight'").
    input_roles: ClassVar[tuple[str, ...]] = ("input",)
    # Inputs beyond the first `min_inputs` are optional (e.g. a bias).
    min_inputs: ClassVar[int] = 1
    num_outputs: ClassVar[int] = 1
    attr_defaults: ClassVar[Mapping[str, Any]] = {}
    dtypes: ClassVar[tuple[str, ...]] = ("float32",)

    @classmethod
    def label(cls, index: int, names: Sequence[str] | None) -> str:
        """'weight 'fc2.weight'' for error messages, or just the role without names."""
        role = cls.input_roles[index] if index < len(cls.input_roles) else f"input #{index}"
        return f"{role} {names[index]!r}" if names is not None else role

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
            if dt not in cls.dtypes:
                raise ShapeError(
                    f"{cls.label(i, names)} has dtype {dt} but {cls.op_type} computes in "
                    f"{' or '.join(cls.dtypes)}"
                )
        return (input_dtypes[0],) * cls.num_outputs

    @classmethod
    def infer_shape(
        cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any], names: Sequence[str] | None = None
    ) -> tuple[Shape, ...]:
        raise NotImplementedError(f"{cls.__name__}.infer_shape")

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        raise NotImplementedError(f"{cls.__name__}.run")

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        raise NotImplementedError(f"{cls.__name__}.flops")

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
        return sum(numel(s) * np.dtype(dt).itemsize for s, dt in zip(shapes, dtypes))
