"""ONNX file or ModelProto -> engine Graph.

Each supported ONNX op has an importer (registered with `importer`) that
checks the node's attributes and adds engine nodes through an ImportContext,
which infers every new tensor's spec at once so that later importers can use
shapes (Reshape's 0 entries, Gemm's bias) and errors point at the first bad node.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import helper, numpy_helper

from engine.ir import Graph, GraphError, Node, TensorSpec, validate
from engine.onnx_io.errors import OnnxFileError, UnsupportedImport
from engine.ops import ShapeError, UnknownOpError, get_op


@dataclass(frozen=True)
class OnnxNode:
    """The parts of a NodeProto an importer reads, attributes decoded."""
    name: str
    op_type: str
    inputs: tuple[str, ...]  # "" marks an omitted optional input
    outputs: tuple[str, ...]
    attrs: dict[str, Any]
    opset: int

    @property
    def where(self) -> str:
        return f"node {self.name!r} ({self.op_type})"

    def fail(self, problem: str) -> UnsupportedImport:
        return UnsupportedImport(f"{self.where}: {problem}")

    def check_attrs(self, allowed: Mapping[str, Callable[[Any], bool] | None]) -> None:
        """Reject attributes not in `allowed`, and values its predicates refuse
        (None accepts any value)."""
        for key, value in self.attrs.items():
            if key not in allowed:
                raise self.fail(f"attribute {key}={value!r} is not supported; supported attributes: "
                                f"{', '.join(sorted(allowed)) or 'none'}")
            accept = allowed[key]
            if accept is not None and not accept(value):
                raise self.fail(f"attribute {key}={value!r} is not supported")


class ImportContext:
    def __init__(self, initializers: dict[str, np.ndarray], inputs: Sequence[TensorSpec],
                 reserved: set[str]) -> None:
        self.initializers = initializers
        self._reserved = set(reserved)  # every tensor name the ONNX graph uses
        self._node_names: set[str] = set()
        self.specs: dict[str, TensorSpec] = {s.name: s for s in inputs}
        self.specs.update({n: TensorSpec(n, a.dtype.name, a.shape) for n, a in initializers.items()})
        self.nodes: list[Node] = []
        self._counter = itertools.count()

    def shape(self, tensor: str) -> tuple[int, ...]:
        return self.specs[tensor].shape

    def constant(self, onnx_node: OnnxNode, index: int, role: str) -> np.ndarray:
        """The value of input `index`, which must be an initializer (or a Constant node's output)."""
        name = onnx_node.inputs[index] if index < len(onnx_node.inputs) else ""
        if not name:
            raise onnx_node.fail(f"input #{index} ({role}) is missing")
        if name not in self.initializers:
            raise onnx_node.fail(f"input #{index} ({role}) {name!r} must be an initializer or a Constant, "
                                 "since the engine needs its value when the graph is built")
        return self.initializers[name]

    def fresh(self, hint: str) -> str:
        """A tensor name for an importer's intermediate, clashing with no ONNX tensor."""
        name = hint
        while name in self._reserved or name in self.specs:
            name = f"{hint}_{next(self._counter)}"
        self._reserved.add(name)
        return name

    def set_initializer(self, name: str, value: np.ndarray) -> None:
        self.initializers[name] = value
        self.specs[name] = TensorSpec(name, value.dtype.name, value.shape)

    def add_initializer(self, hint: str, value: np.ndarray) -> str:
        """A new initializer under a fresh name based on `hint`."""
        name = self.fresh(hint)
        self.set_initializer(name, value)
        return name

    def add(self, onnx_node: OnnxNode, op: str, inputs: Sequence[str], outputs: Sequence[str],
            attrs: Mapping[str, Any] | None = None, *, name: str | None = None) -> None:
        base = name or onnx_node.name
        node_name = base
        while node_name in self._node_names:
            node_name = f"{base}_{next(self._counter)}"
        self._node_names.add(node_name)
        node = Node(node_name, op, tuple(inputs), tuple(outputs), dict(attrs or {}))
        try:
            cls = get_op(op)
            cls.check_arity(len(node.inputs), len(node.outputs))
            resolved = cls.resolve_attrs(node.attrs)
            in_specs = [self.specs[t] for t in node.inputs]
            dtypes = cls.infer_dtype([s.dtype for s in in_specs], resolved, names=node.inputs)
            shapes = cls.infer_shape([s.shape for s in in_specs], resolved, names=node.inputs)
        except UnknownOpError:
            raise onnx_node.fail(f"maps to engine op {op!r}, which this engine build does not have") from None
        except ShapeError as e:
            raise onnx_node.fail(f"as engine op {op}: {e}") from None
        for t, dt, shape in zip(node.outputs, dtypes, shapes, strict=False):
            self.specs[t] = TensorSpec(t, dt, shape)
        self.nodes.append(node)


Importer = Callable[[ImportContext, OnnxNode], None]
IMPORTERS: dict[str, Importer] = {}


def importer(*op_types: str) -> Callable[[Importer], Importer]:
    def register(fn: Importer) -> Importer:
        for op_type in op_types:
            IMPORTERS[op_type] = fn
        return fn
    return register


def load_checked(source: str | Path | onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """The model and a label for messages; a bad file raises OnnxFileError
    naming the file and the problem."""
    if isinstance(source, onnx.ModelProto):
        model, label = source, f"model {source.graph.name or '(unnamed)'!r}"
    else:
        label = str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as e:
            raise OnnxFileError(f"{label}: cannot read: {e.strerror or e}") from None
        try:
            model = onnx.load_model_from_string(data)
        except (DecodeError, RuntimeError, ValueError) as e:
            raise OnnxFileError(f"{label}: not an ONNX model (protobuf decoding failed: {e})") from None
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise OnnxFileError(f"{label}: fails the ONNX checker: {first}") from None
    return model, label


def _input_spec(vi: onnx.ValueInfoProto, batch: int | None, label: str) -> TensorSpec:
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
        raise UnsupportedImport(f"{label}: graph input {vi.name!r} has no tensor type with a shape")
    dims: list[int] = []
    for i, d in enumerate(tt.shape.dim):
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(d.dim_value)
        elif i == 0 and batch is not None:
            dims.append(batch)
        else:
            what = repr(d.dim_param) if d.HasField("dim_param") else "unknown"
            hint = "; pass batch=N to fix a symbolic batch dimension" if i == 0 else ""
            raise UnsupportedImport(f"{label}: graph input {vi.name!r} dimension {i} is {what}, "
                                    f"the engine needs static shapes{hint}")
    dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
    return TensorSpec(vi.name, dtype.name, tuple(dims))


def symbolic_batch_inputs(model: onnx.ModelProto) -> list[str]:
    """The graph inputs whose first dimension is not a fixed number."""
    initializers = {t.name for t in model.graph.initializer}
    names = []
    for vi in model.graph.input:
        dims = vi.type.tensor_type.shape.dim
        if vi.name not in initializers and dims and not (dims[0].HasField("dim_value") and dims[0].dim_value > 0):
            names.append(vi.name)
    return names


def _default_opset(model: onnx.ModelProto) -> int:
    for op in model.opset_import:
        if op.domain in ("", "ai.onnx"):
            return op.version
    return 1


def import_onnx(source: str | Path | onnx.ModelProto, *, batch: int | None = None) -> Graph:
    """Import an ONNX model (a path or a ModelProto) with its weights.

    Graph inputs need static shapes; `batch` fills a symbolic first dimension.
    Raises OnnxFileError for a file that is not a valid ONNX model and
    UnsupportedImport naming the node and op type it cannot map."""
    model, label = load_checked(source)
    g = model.graph
    initializers: dict[str, np.ndarray] = {}
    for t in g.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            raise OnnxFileError(f"{label}: initializer {t.name!r} uses external data, which is not supported")
        initializers[t.name] = numpy_helper.to_array(t)
    inputs = [_input_spec(vi, batch, label) for vi in g.input if vi.name not in initializers]
    tensors = {t for n in g.node for t in (*n.input, *n.output)} | {vi.name for vi in g.input}
    ctx = ImportContext(initializers, inputs, tensors)
    opset = _default_opset(model)
    for i, proto in enumerate(g.node):
        name = proto.name or f"{proto.op_type.lower()}_{i}"
        node = OnnxNode(name, proto.op_type, tuple(proto.input), tuple(proto.output),
                        {a.name: helper.get_attribute_value(a) for a in proto.attribute}, opset)
        if proto.domain not in ("", "ai.onnx"):
            raise node.fail(f"op domain {proto.domain!r} is not supported (only the default ONNX domain)")
        fn = IMPORTERS.get(proto.op_type)
        if fn is None:
            raise node.fail(f"op type {proto.op_type!r} is not supported; supported: {', '.join(sorted(IMPORTERS))}")
        fn(ctx, node)
    outputs = tuple(o.name for o in g.output)
    # initializers only importers read (Reshape shapes, Slice bounds, re-laid-out weights) are dropped
    read = {t for n in ctx.nodes for t in n.inputs} | set(outputs)
    graph = Graph(name=g.name or Path(label).stem, inputs=tuple(inputs),
                  initializers={n: a for n, a in ctx.initializers.items() if n in read},
                  nodes=tuple(ctx.nodes), outputs=outputs)
    try:
        validate(graph)
    except GraphError as e:
        raise UnsupportedImport(f"{label}: the imported graph is not valid: {e}") from None
    return graph


def attr_str(value: Any) -> str:
    """A string attribute as str (onnx decodes them to bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)
