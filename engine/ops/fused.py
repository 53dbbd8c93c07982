"""Fused ops that graph passes (engine.passes) emit; no model builds them.

FusedLinear: Linear (x @ W + b) with an activation applied in place on the
GEMM's output, so the pre-activation tensor is never a separate array.
FusedConv: Conv with a Relu applied in place.
GroupedEmbeddingBag: several EmbeddingBags in one node; with enough ids in
all (embedding_kernels.MIN_IDS_PER_THREAD per thread) the tables are pooled
on up to the BLAS thread limit's worth of threads at once, since one
EmbeddingBag of a DLRM batch is too small to split by itself.

Each computes exactly what its unfused nodes compute (same numpy calls, in
the same order), so outputs match the unoptimized graph bit for bit. FLOPs
are the sum of the parts; bytes the default minimum traffic (inputs read,
output written): the intermediate tensor the fusion removes is not counted,
which is the point of fusing.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from scipy import special

from engine.ops.activation import Relu
from engine.ops.base import Op, Shape, ShapeError, numel
from engine.ops.conv import Conv2d
from engine.ops import embedding_kernels
from engine.ops.elementwise import Gelu, Sigmoid, Tanh
from engine.ops.embedding import EmbeddingBag, embedding_bag
from engine.ops.linear import Linear

ACTIVATIONS: dict[str, type[Op]] = {"Relu": Relu, "Gelu": Gelu, "Sigmoid": Sigmoid, "Tanh": Tanh}


def _activation(attrs: Mapping[str, Any], allowed: Sequence[str]) -> str:
    act = attrs.get("activation")
    if act not in allowed:
        raise ShapeError(f"attribute activation is {act!r}; expected one of {', '.join(map(repr, allowed))}")
    return act


def _activate_in_place(y: np.ndarray, act: str, attrs: Mapping[str, Any]) -> np.ndarray:
    if act == "Relu":
        return np.maximum(y, 0, out=y)
    if act == "Sigmoid":
        return special.expit(y, out=y)
    if act == "Tanh":
        return np.tanh(y, out=y)
    return Gelu.run([y], {"approximate": attrs.get("approximate", "none")})[0]


class FusedLinear(Op):
    """y = activation(x @ W + b); `activation` is Relu, Gelu (with
    `approximate` as Gelu's), Sigmoid or Tanh. Bias optional, as Linear."""

    op_type = "FusedLinear"
    input_roles = Linear.input_roles
    min_inputs = Linear.min_inputs
    attr_defaults = {"activation": None, "approximate": "none"}

    @classmethod
    def infer_shape(
        cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any], names: Sequence[str] | None = None
    ) -> tuple[Shape, ...]:
        act = _activation(attrs, tuple(ACTIVATIONS))
        if act == "Gelu":
            Gelu.infer_shape(input_shapes[:1], {"approximate": attrs.get("approximate", "none")})
        return Linear.infer_shape(input_shapes, {}, names)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        (y,) = Linear.run(inputs, {})
        return (_activate_in_place(y, attrs["activation"], attrs),)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        (out,) = Linear.infer_shape(input_shapes, {})
        act = ACTIVATIONS[attrs["activation"]]
        act_attrs = {"approximate": attrs.get("approximate", "none")} if act is Gelu else {}
        return Linear.flops(input_shapes, {}) + act.flops([out], act_attrs)


class FusedConv(Op):
    """y = Relu(Conv(x, W, b)); the Conv attributes as Conv's."""

    op_type = "FusedConv"
    input_roles = Conv2d.input_roles
    min_inputs = Conv2d.min_inputs
    attr_defaults = {**Conv2d.attr_defaults, "activation": None}

    @staticmethod
    def _conv_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in attrs.items() if k != "activation"}

    @classmethod
    def infer_shape(
        cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any], names: Sequence[str] | None = None
    ) -> tuple[Shape, ...]:
        _activation(attrs, ("Relu",))
        return Conv2d.infer_shape(input_shapes, cls._conv_attrs(attrs), names)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        (y,) = Conv2d.run(inputs, cls._conv_attrs(attrs))
        return (np.maximum(y, 0, out=y),)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        conv_attrs = cls._conv_attrs(attrs)
        (out,) = Conv2d.infer_shape(input_shapes, conv_attrs)
        return Conv2d.flops(input_shapes, conv_attrs) + numel(out)


_group_lock = threading.Lock()
_group_executor: ThreadPoolExecutor | None = None


def _group_pool() -> ThreadPoolExecutor:
    global _group_executor
    with _group_lock:
        if _group_executor is None:
            _group_executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                                 thread_name_prefix="embedding-group")
        return _group_executor


def _balanced(costs: Sequence[int], parts: int) -> list[list[int]]:
    """Indices of `costs` dealt into `parts` lists of about equal total (largest first)."""
    bins: list[list[int]] = [[] for _ in range(parts)]
    totals = [0] * parts
    for i in sorted(range(len(costs)), key=lambda i: -costs[i]):
        j = totals.index(min(totals))
        bins[j].append(i)
        totals[j] += costs[i]
    return [b for b in bins if b]


class GroupedEmbeddingBag(Op):
    """k EmbeddingBags in one node: inputs (weight, indices, offsets) * k,
    outputs the k pooled tensors, each exactly as EmbeddingBag computes it
    (same kernel, so bit-identical). `mode` is shared. FLOPs and bytes are
    the sums of the k lookups'."""

    op_type = "GroupedEmbeddingBag"
    input_roles = ()
    min_inputs = 3
    num_outputs = 0  # variadic: one per group of three inputs
    attr_defaults = {"mode": "sum"}

    @classmethod
    def label(cls, index: int, names: Sequence[str] | None) -> str:
        role = f"{EmbeddingBag.input_roles[index % 3]} of table #{index // 3}"
        return f"{role} {names[index]!r}" if names is not None else role

    @classmethod
    def check_arity(cls, n_inputs: int, n_outputs: int) -> None:
        if n_inputs < 3 or n_inputs % 3:
            raise ShapeError(f"takes (weight, indices, offsets) per table, a multiple of 3 inputs, got {n_inputs}")
        if n_outputs != n_inputs // 3:
            raise ShapeError(f"produces one output per table ({n_inputs // 3}), got {n_outputs} output names")

    @staticmethod
    def _tables(items: Sequence[Any]) -> list[Sequence[Any]]:
        return [items[i:i + 3] for i in range(0, len(items), 3)]

    @classmethod
    def infer_dtype(
        cls, input_dtypes: Sequence[str], attrs: Mapping[str, Any], names: Sequence[str] | None = None
    ) -> tuple[str, ...]:
        out = []
        for k, dts in enumerate(cls._tables(input_dtypes)):
            try:
                out += EmbeddingBag.infer_dtype(dts, attrs, None if names is None else names[3 * k:3 * k + 3])
            except ShapeError as e:
                raise ShapeError(f"table #{k}: {e}") from None
        return tuple(out)

    @classmethod
    def infer_shape(
        cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any], names: Sequence[str] | None = None
    ) -> tuple[Shape, ...]:
        out = []
        for k, shapes in enumerate(cls._tables(input_shapes)):
            try:
                out += EmbeddingBag.infer_shape(shapes, attrs, None if names is None else names[3 * k:3 * k + 3])
            except ShapeError as e:
                raise ShapeError(f"table #{k}: {e}") from None
        return tuple(out)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        mode = attrs.get("mode", "sum")
        tables = cls._tables(inputs)
        out: list[np.ndarray | None] = [None] * len(tables)

        def pool(ks: list[int]) -> None:
            for k in ks:
                try:
                    out[k] = embedding_bag(*tables[k], mode)
                except ValueError as e:
                    raise ValueError(f"table #{k}: {e}") from None

        # as the single-table kernel: a thread only pays with enough ids to pool
        useful = min(sum(t[1].size for t in tables) // embedding_kernels.MIN_IDS_PER_THREAD, len(tables))
        threads = min(embedding_kernels.threads_allowed(), useful) if embedding_kernels.AVAILABLE and useful > 1 else 1
        if threads <= 1:
            pool(list(range(len(tables))))
        else:  # the numba kernel releases the GIL, so the tables pool in parallel
            runs = _balanced([t[1].size for t in tables], threads)
            futures = [_group_pool().submit(pool, ks) for ks in runs[1:]]
            pool(runs[0])
            for f in futures:
                f.result()
        return tuple(out)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        return sum(EmbeddingBag.flops(shapes, attrs) for shapes in cls._tables(input_shapes))

    @classmethod
    def bytes(
        cls, input_shapes: Sequence[Shape], output_shapes: Sequence[Shape], dtypes: Sequence[str]
    ) -> int:
        k = len(output_shapes)
        in_dtypes, out_dtypes = dtypes[:3 * k], dtypes[3 * k:]
        return sum(EmbeddingBag.bytes(cls._tables(input_shapes)[i], [output_shapes[i]],
                                      [*cls._tables(in_dtypes)[i], out_dtypes[i]]) for i in range(k))


__all__ = ["ACTIVATIONS", "FusedConv", "FusedLinear", "GroupedEmbeddingBag"]
