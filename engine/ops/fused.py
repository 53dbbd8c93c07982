"""Fused ops that graph passes (engine.passes) emit; no model builds them.

FusedLinear: Linear (x @ W + b) with an activation applied in place on the
GEMM's output, so the pre-activation tensor is never a separate array.
FusedConv: Conv with a Relu applied in place.
GroupedEmbeddingBag: several EmbeddingBags in one node, pooled by one
compiled call over all the tables' ids (threads split by the total id
count: one EmbeddingBag of a DLRM batch is too small to split by itself).
ActivationUnitLinear: the first layer of DIN's local activation unit with
its weight folded (not bit-identical: see the class).

Each computes exactly what its unfused nodes compute (same numpy calls, in
the same order), so outputs match the unoptimized graph bit for bit. FLOPs
are the sum of the parts; bytes the default minimum traffic (inputs read,
output written): the intermediate tensor the fusion removes is not counted,
which is the point of fusing.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from engine.ops.activation import Relu
from engine.ops.base import Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape, numel
from engine.ops.conv import Conv2d
from engine.ops.elementwise import Gelu, Sigmoid, Tanh, split_rows
from engine.ops import embedding_kernels
from engine.ops.embedding import EmbeddingBag, embedding_bags
from engine.ops.linear import Linear

ACTIVATIONS: dict[str, type[Op]] = {"Relu": Relu, "Gelu": Gelu, "Sigmoid": Sigmoid, "Tanh": Tanh}


def _activation(attrs: Mapping[str, Any], allowed: Sequence[str]) -> str:
    act = attrs.get("activation")
    if act not in allowed:
        raise ShapeError(f"attribute activation is {act!r}; expected one of {', '.join(map(repr, allowed))}")
    return act


def _activate_in_place(y: np.ndarray, act: str, attrs: Mapping[str, Any]) -> np.ndarray:
    """The activation of y, in place except for Gelu (whose formula reads x after writing)."""
    op = ACTIVATIONS[act]
    act_attrs = {"approximate": attrs.get("approximate", "none")}
    return op.apply(y, np.empty_like(y) if op is Gelu else y, act_attrs)


class FusedLinear(Op):
    """y = activation(x @ W + b); `activation` is Relu, Gelu (with
    `approximate` as Gelu's), Sigmoid or Tanh. Bias optional, as Linear."""

    op_type = "FusedLinear"
    multithreaded = True  # BLAS
    input_roles = Linear.input_roles
    min_inputs = Linear.min_inputs
    attr_defaults = {"activation": None, "approximate": "none"}

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
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
    multithreaded = True  # BLAS
    input_roles = Conv2d.input_roles
    min_inputs = Conv2d.min_inputs
    attr_defaults = {**Conv2d.attr_defaults, "activation": None}

    @staticmethod
    def _conv_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in attrs.items() if k != "activation"}

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        _activation(attrs, ("Relu",))
        return Conv2d.infer_shape(input_shapes, cls._conv_attrs(attrs), names)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        (y,) = Conv2d.run(inputs, cls._conv_attrs(attrs))
        return (Relu.apply(y, y, {}),)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        conv_attrs = cls._conv_attrs(attrs)
        (out,) = Conv2d.infer_shape(input_shapes, conv_attrs)
        return Conv2d.flops(input_shapes, conv_attrs) + numel(out)

    @classmethod
    def kernel_bytes(cls, input_shapes: Shapes, output_shapes: Shapes, dtypes: Sequence[str],
                     attrs: Attrs) -> int | None:
        return Conv2d.kernel_bytes(input_shapes, output_shapes, dtypes, cls._conv_attrs(attrs))

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        return Conv2d.threads(input_shapes, cls._conv_attrs(attrs), limit)


class GroupedEmbeddingBag(Op):
    """k EmbeddingBags in one node: inputs (weight, indices, offsets) * k,
    outputs the k pooled tensors, each bit-identical to what EmbeddingBag
    computes. `mode` is shared. One compiled call pools all the tables
    (engine.ops.embedding.embedding_bags): the per-lookup Python, checks and
    allocation are paid once, and the ids of all tables are split over the
    BLAS thread limit's threads by total count. `dedup` 1 reads each distinct
    row of a table once (a hash of the ids, then the bags pooled from the
    distinct rows); it measured slower on dlrm (benchmarks/embedding_fusion.py),
    so it is off by default. FLOPs and bytes are the sums of the k lookups'."""

    op_type = "GroupedEmbeddingBag"
    table_op: ClassVar[type[Op]] = EmbeddingBag  # what each table's lookup is
    input_roles = ()
    min_inputs = 3
    num_outputs = 0  # variadic: one per group of three inputs
    attr_defaults = {"mode": "sum", "dedup": 0}

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
    def _table_attrs(cls, attrs: Mapping[str, Any], count: int) -> list[Mapping[str, Any]]:
        """The attributes each table's lookup (`table_op`) sees."""
        return [attrs] * count

    @classmethod
    def _per_table(cls, method: str, items: Sequence[Any], attrs: Mapping[str, Any],
                   names: Sequence[str] | None) -> tuple[str, ...]:
        """`table_op.method` on each table's three items, errors prefixed with the table."""
        tables = cls._tables(items)
        out: list[Any] = []
        for k, (table, table_attrs) in enumerate(zip(tables, cls._table_attrs(attrs, len(tables)))):
            table_names = None if names is None else names[3 * k:3 * k + 3]
            try:
                out += getattr(cls.table_op, method)(table, table_attrs, table_names)
            except ShapeError as e:
                raise ShapeError(f"table #{k}: {e}") from None
        return tuple(out)

    @classmethod
    def infer_dtype(
        cls, input_dtypes: Sequence[str], attrs: Mapping[str, Any], names: Sequence[str] | None = None
    ) -> tuple[str, ...]:
        return cls._per_table("infer_dtype", input_dtypes, attrs, names)

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        return cls._per_table("infer_shape", input_shapes, attrs, names)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        return embedding_bags(inputs[0::3], inputs[1::3], inputs[2::3], EmbeddingBag._mode(attrs),
                              dedup=bool(attrs.get("dedup", 0)))

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        tables = cls._tables(input_shapes)
        return sum(cls.table_op.flops(shapes, table_attrs)
                   for shapes, table_attrs in zip(tables, cls._table_attrs(attrs, len(tables))))

    @classmethod
    def bytes(
        cls, input_shapes: Sequence[Shape], output_shapes: Sequence[Shape], dtypes: Sequence[str]
    ) -> int:
        k = len(output_shapes)
        in_dtypes, out_dtypes = dtypes[:3 * k], dtypes[3 * k:]
        return sum(cls.table_op.bytes(cls._tables(input_shapes)[i], [output_shapes[i]],
                                      [*cls._tables(in_dtypes)[i], out_dtypes[i]]) for i in range(k))

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        """The ids of all tables are split by their total count (embedding_kernels.pool_grouped)."""
        if not embedding_kernels.AVAILABLE:
            return 1
        tables = cls._tables(input_shapes)
        return embedding_kernels.pool_threads(sum(numel(t[1]) for t in tables), sum(numel(t[2]) for t in tables),
                                              limit)

    @classmethod
    def gathered(cls, input_shapes: Shapes, dtypes: Sequence[str], attrs: Attrs) -> list[tuple[int, int]]:
        tables = cls._tables(input_shapes)
        per_table = zip(tables, cls._tables(dtypes), cls._table_attrs(attrs, len(tables)))
        return [row for shapes, types, table_attrs in per_table
                for row in cls.table_op.gathered(shapes, types, table_attrs)]


class ActivationUnitLinear(Op):
    """act(concat[q, k, q - k, q * k] @ W + b) for every step of keys k
    against one query q per row: the first layer of DIN's local activation
    unit, with W = [W_q; W_k; W_d; W_p] folded by engine.passes.activation_unit
    into query_weight = W_q + W_d and key_weight = [W_k - W_d; W_p], so that

        y = act(q @ query_weight + b  (once per row, broadcast over the steps)
                + concat[k, q * k] @ key_weight)

    Half the GEMM's depth, and neither the tiled query nor the 4-part concat
    is materialized; it equals the unfolded layer up to float32 rounding
    (the sums are regrouped), not bit for bit.

    Inputs: query (B, 1, d), keys (B, T, d), query_weight (d, H), key_weight
    (2d, H), optional bias (H,). Output (B, T, H). Attribute `activation`:
    None or one of FusedLinear's (with `approximate` for Gelu).
    FLOPs are what it computes: the query rows' GEMM and bias, q * k, the
    keys' GEMM, the broadcast add, the activation. Kernel bytes: the (B, T, 2d)
    concat buffer, written once and read once, on top of the minimum."""

    op_type = "ActivationUnitLinear"
    multithreaded = True  # BLAS, and the row blocks of engine.ops.parallel
    input_roles = ("query", "keys", "query_weight", "key_weight", "bias")
    min_inputs = 4
    attr_defaults = {"activation": None, "approximate": "none"}

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        if attrs.get("activation") is not None:
            _activation(attrs, tuple(ACTIVATIONS))
        q, k, wq, wk = (tuple(s) for s in input_shapes[:4])
        if len(k) != 3:
            raise ShapeError(f"{cls.label(1, names)} has shape {fmt_shape(k)} but must be 3-D (batch, steps, d)")
        b, _, d = k
        cls.check_input_shape(0, input_shapes, (b, 1, d), f"{cls.label(1, names)} has shape {fmt_shape(k)}", names)
        if len(wq) != 2 or wq[0] != d:
            raise ShapeError(f"{cls.label(2, names)} has shape {fmt_shape(wq)} but must be ({d}, hidden)")
        h = wq[1]
        cls.check_input_shape(3, input_shapes, (2 * d, h), f"{cls.label(2, names)} has shape {fmt_shape(wq)}",
                              names)
        cls.check_input_shape(4, input_shapes, (h,), f"{cls.label(2, names)} has shape {fmt_shape(wq)}", names)
        return (k[:2] + (h,),)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        q, k, wq, wk = inputs[:4]
        b, t, d = k.shape
        rows = q.reshape(b, d) @ wq
        if len(inputs) > 4:
            rows += inputs[4]
        pairs = np.empty((b, t, 2 * d), dtype=np.float32)  # [k, q * k]
        split_rows(_keys_and_products, pairs, [k, q])
        y = (pairs.reshape(b * t, 2 * d) @ wk).reshape(b, t, wk.shape[1])
        split_rows(lambda a, r, o: np.add(a, r, out=o), y, [y, rows[:, None, :]])
        act = attrs.get("activation")
        return (y if act is None else _activate_in_place(y, act, attrs),)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        (b, t, d), h = input_shapes[1], input_shapes[2][1]
        own = 2 * b * d * h + (b * h if len(input_shapes) > 4 else 0) + b * t * d + 2 * b * t * 2 * d * h + b * t * h
        act = attrs.get("activation")
        if act is None:
            return own
        act_attrs = {"approximate": attrs.get("approximate", "none")} if act == "Gelu" else {}
        return own + ACTIVATIONS[act].flops([(b, t, h)], act_attrs)

    @classmethod
    def kernel_bytes(cls, input_shapes: Shapes, output_shapes: Shapes, dtypes: Sequence[str],
                     attrs: Attrs) -> int | None:
        b, t, d = input_shapes[1]
        return cls.bytes(input_shapes, output_shapes, dtypes) + 2 * 4 * b * t * 2 * d


def _keys_and_products(k: np.ndarray, q: np.ndarray, out: np.ndarray) -> None:
    """out[..., :d] = k, out[..., d:] = q * k (q broadcast over the steps)."""
    d = k.shape[-1]
    out[..., :d] = k
    np.multiply(q, k, out=out[..., d:])


__all__ = ["ACTIVATIONS", "ActivationUnitLinear", "FusedConv", "FusedLinear", "GroupedEmbeddingBag"]
