"""The work (FLOPs, minimum bytes) of ONNX nodes, through the engine's own
op formulas: one formula per op, shared by both backends.

Each node of the original ONNX graph is imported on its own (the importers of
engine/onnx_io/import_*.py, with the tensor shapes onnx's shape inference
gives) into engine nodes, whose Op classes state their FLOPs and bytes. A
node that onnxruntime fused with others is a group: its FLOPs are the sum of
its parts', its bytes the parts' less the traffic of the tensors that stay
inside the fused kernel (written by one part and read by another). Where any
of that cannot be known (an op with no engine formula, a custom domain, a
shape inference could not give, a formula that does not count an operand
once) the work is unknown with the reason: never guessed.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from engine.ir import TensorSpec
from engine.onnx_io.errors import UnsupportedImport
from engine.onnx_io.import_graph import IMPORTERS, ImportContext, OnnxNode
from engine.ops import ShapeError, get_op
from engine.ops.base import Op, numel

DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class Work:
    """FLOPs and bytes, or `unknown` (why) with both None. `counted`: how many
    times the formulas count each operand tensor (1 plain, 0 a view such as
    Reshape); a tensor missing from it is counted some other way, so a group
    cannot take its traffic out. `gathered`: rows read at random (Op.gathered)."""

    flops: int | None
    bytes: int | None
    unknown: str | None = None
    counted: Mapping[str, int] = field(default_factory=dict)
    gathered: tuple[tuple[int, int], ...] = ()

    @classmethod
    def not_known(cls, reason: str) -> "Work":
        return cls(None, None, reason)


def fixed_shapes(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """A copy of `model` whose graph inputs have the feeds' shapes (a symbolic
    batch made concrete), with every tensor's shape inferred where onnx can."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for vi in fixed.graph.input:
        if vi.name in feeds:
            dims = vi.type.tensor_type.shape.dim
            for d, size in zip(dims, feeds[vi.name].shape, strict=False):
                d.Clear()
                d.dim_value = int(size)
    return onnx.shape_inference.infer_shapes(fixed, data_prop=True)


def tensor_specs(inferred: onnx.ModelProto) -> dict[str, TensorSpec]:
    """Every tensor whose dtype and whole shape are known, by name."""
    specs: dict[str, TensorSpec] = {}
    g = inferred.graph
    for vi in (*g.input, *g.value_info, *g.output):
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or not tt.HasField("shape") or not tt.elem_type:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in tt.shape.dim]
        if all(d > 0 for d in dims):
            specs[vi.name] = TensorSpec(vi.name, helper.tensor_dtype_to_np_dtype(tt.elem_type).name, tuple(dims))
    for t in g.initializer:
        specs[t.name] = TensorSpec(t.name, helper.tensor_dtype_to_np_dtype(t.data_type).name, tuple(t.dims))
    return specs


def constant_values(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    """Initializers and Constant nodes' outputs (tensor values only), by tensor name."""
    values = {t.name: t for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.domain in DEFAULT_DOMAINS:
            for a in n.attribute:
                if a.name == "value":
                    values[n.output[0]] = a.t
    return values


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS), 1)


def _counted(op: type[Op], in_shapes, out_shapes, dtypes) -> int | None:
    """How many times `op`'s bytes formula counts each operand: 1 for the
    base formula (every input read once, every output written once), 0 for a
    formula that counts nothing here (a view), else None (counted otherwise)."""
    if op.bytes(in_shapes, out_shapes, dtypes) == 0:
        return 0
    if op.bytes.__func__ is Op.bytes.__func__ and not op.copies_output:  # type: ignore[attr-defined]
        return 1
    return None


def node_work(node: onnx.NodeProto, name: str, specs: Mapping[str, TensorSpec],
              values: Mapping[str, onnx.TensorProto], opset: int) -> Work:
    """The work of one ONNX node as the engine's formulas count it."""
    where = f"{node.op_type} node {name!r}"
    if node.domain not in DEFAULT_DOMAINS:
        return Work.not_known(f"{where} is in the custom domain {node.domain!r}, which has no engine formula")
    fn = IMPORTERS.get(node.op_type)
    if fn is None:
        return Work.not_known(f"{where}: op type {node.op_type!r} has no engine formula")
    inputs = [t for t in node.input if t]
    missing = [t for t in [*inputs, *node.output] if t not in specs and t not in values]
    if missing:
        return Work.not_known(f"{where}: the shape of {', '.join(map(repr, missing))} is not known "
                              "(onnx shape inference gave none)")
    consts = {t: numpy_helper.to_array(values[t]) for t in inputs if t in values}
    ctx = ImportContext(consts, [specs[t] for t in inputs if t not in consts], set(inputs) | set(node.output))
    proto = OnnxNode(name, node.op_type, tuple(node.input), tuple(node.output),
                     {a.name: helper.get_attribute_value(a) for a in node.attribute}, opset)
    try:
        fn(ctx, proto)
    except UnsupportedImport as e:
        return Work.not_known(f"the engine's formulas do not cover it: {e}")
    flops = nbytes = 0
    gathered: list[tuple[int, int]] = []
    parts: list[tuple[Sequence[str], Sequence[str], Mapping[str, int | None]]] = []
    for enode in ctx.nodes:
        op = get_op(enode.op)
        attrs = op.resolve_attrs(enode.attrs)
        ins, outs = [ctx.specs[t] for t in enode.inputs], [ctx.specs[t] for t in enode.outputs]
        in_shapes, out_shapes = [s.shape for s in ins], [s.shape for s in outs]
        dtypes = [s.dtype for s in (*ins, *outs)]
        try:
            flops += int(op.flops(in_shapes, attrs))
        except (NotImplementedError, ShapeError) as e:
            return Work.not_known(f"{where}: engine op {enode.op} states no FLOPs ({e})")
        nbytes += int(op.bytes(in_shapes, out_shapes, dtypes))
        gathered += op.gathered(in_shapes, dtypes, attrs)
        times = _counted(op, in_shapes, out_shapes, dtypes)
        parts.append((enode.inputs, enode.outputs, {t: times for t in (*enode.inputs, *enode.outputs)}))
    return _without_internal(Work(flops, nbytes, None, {}, tuple(gathered)), parts, ctx.specs,
                             outside=set(node.output), where=where)


def _without_internal(total: Work, parts: Sequence[tuple[Sequence[str], Sequence[str], Mapping[str, int | None]]],
                      specs: Mapping[str, TensorSpec], outside: set[str], where: str) -> Work:
    """`total` (the parts' sums) less the traffic of tensors one part writes
    and others read: a fused kernel keeps them inside. `parts`: each part's
    inputs, outputs and how its formulas count each (Work.counted); `outside`:
    tensors read after the group too (its outputs), whose write stays. The
    result's `counted`: how the group's formulas count its remaining operands."""
    written: dict[str, int | None] = {}
    reads: dict[str, list[int | None]] = {}
    for ins, outs, times in parts:
        for t in outs:
            written[t] = times.get(t)
        for t in ins:
            reads.setdefault(t, []).append(times.get(t))
    nbytes = total.bytes or 0
    for t, readers in reads.items():
        if t not in written:
            continue
        if written[t] is None or any(r is None for r in readers):
            return Work.not_known(f"{where}: its parts' formulas do not count the traffic of {t!r} plainly, "
                                  "so what the fused kernel moves cannot be derived")
        size = numel(specs[t].shape) * np.dtype(specs[t].dtype).itemsize
        nbytes -= size * sum(readers)
        if t not in outside:
            nbytes -= size * written[t]
    counted: dict[str, int | None] = {}
    for ins, outs, times in parts:
        for t in (*ins, *outs):
            if t not in written or t in outside:
                c = times.get(t)
                counted[t] = c if counted.get(t, c) == c else None
    return Work(total.flops, nbytes, None, {t: c for t, c in counted.items() if c is not None}, total.gathered)


def group_work(names: Sequence[str], works: Mapping[str, Work], nodes: Mapping[str, onnx.NodeProto],
               specs: Mapping[str, TensorSpec], read_after: Iterable[str]) -> Work:
    """The work of the original nodes `names` run as one fused kernel.
    `read_after`: tensors something outside the group (or the graph's output) reads."""
    if len(names) == 1:
        return works[names[0]]
    for n in names:
        if works[n].unknown:
            return Work.not_known(f"fused with {works[n].unknown}")
    parts = [([t for t in nodes[n].input if t], list(nodes[n].output), works[n].counted) for n in names]
    total = Work(sum(works[n].flops or 0 for n in names), sum(works[n].bytes or 0 for n in names), None, {},
                 tuple(r for n in names for r in works[n].gathered))
    return _without_internal(total, parts, specs, set(read_after), where=f"the fused nodes {', '.join(names)}")


def model_work(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> tuple[dict[str, Work], dict[str, TensorSpec]]:
    """Every named node's work (see node_work) and the tensor specs it used."""
    inferred = fixed_shapes(model, feeds)
    specs, values, opset = tensor_specs(inferred), constant_values(model), _opset(model)
    return ({n.name: node_work(n, n.name, specs, values, opset) for n in model.graph.node}, specs)
