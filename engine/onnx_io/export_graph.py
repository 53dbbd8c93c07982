"""Engine graph -> onnx.ModelProto.

Each engine op has an exporter (registered with `exporter`) that emits one or
more standard ONNX nodes through an ExportContext. A single-node mapping keeps
the engine node's name; a decomposition names its nodes `<node>/<step>` so the
lineage stays readable in an ONNX viewer or an onnxruntime profile.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from engine.atomic_file import write_bytes_atomic
from engine.ir import Graph, Node, TensorSpec, infer_specs, topological_order
from engine.onnx_io.errors import UnsupportedExport
from engine.ops import get_op

OPSET = 20  # onnxruntime 1.32 runs it; Gelu (20), LayerNormalization (17), ScatterND reduction (16)
IR_VERSION = 9  # the IR version that goes with opset 20 (onnx 1.15)

Exporter = Callable[["ExportContext", Node, dict[str, Any]], None]
EXPORTERS: dict[str, Exporter] = {}


def exporter(*op_types: str) -> Callable[[Exporter], Exporter]:
    def register(fn: Exporter) -> Exporter:
        for op_type in op_types:
            EXPORTERS[op_type] = fn
        return fn
    return register


def onnx_dtype(dtype: str) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class ExportContext:
    """Collects ONNX nodes and initializers while the exporters run."""

    def __init__(self, specs: dict[str, TensorSpec], values: dict[str, np.ndarray]) -> None:
        self.specs = specs
        self.values = values  # the engine graph's initializers
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._taken: set[str] = set(specs)  # tensor names
        self._node_names: set[str] = set()
        self._counter = itertools.count()
        self.exporting = ""  # the engine node whose exporter runs now
        self.origins: dict[str, str] = {}  # ONNX node name -> the engine node it was exported from

    def shape(self, tensor: str) -> tuple[int, ...]:
        return self.specs[tensor].shape

    def fresh(self, hint: str) -> str:
        name = hint
        while name in self._taken:
            name = f"{hint}_{next(self._counter)}"
        self._taken.add(name)
        return name

    def const(self, hint: str, value: np.ndarray | Sequence[int] | float) -> str:
        """A new initializer; Python ints/lists become int64, floats float32."""
        if isinstance(value, (np.ndarray, np.generic)):
            arr = np.asarray(value)
        else:
            arr = np.asarray(value, dtype=np.float32 if isinstance(value, float) else np.int64)
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(arr, name))
        return name

    def value(self, node: Node, index: int, role: str) -> np.ndarray:
        """The value of the node's input `index`, which must be an initializer."""
        name = node.inputs[index]
        if name not in self.values:
            raise UnsupportedExport(f"node {node.name!r} ({node.op}): {role} {name!r} must be an initializer "
                                    "to be exported (its ONNX layout is computed at export time)")
        return self.values[name]

    def emit(self, op_type: str, inputs: Sequence[str], outputs: Sequence[str] | str | None = None,
             *, name: str, **attrs: Any) -> str:
        """Append one ONNX node; `outputs` given as a str is a hint for a fresh
        name. Returns the first output's name."""
        if outputs is None or isinstance(outputs, str):
            outputs = [self.fresh(outputs or name)]
        else:
            self._taken.update(outputs)
        node_name = name
        while node_name in self._node_names:
            node_name = f"{name}_{next(self._counter)}"
        self._node_names.add(node_name)
        self.origins[node_name] = self.exporting
        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs), name=node_name, **attrs))
        return outputs[0]


def _value_info(spec: TensorSpec) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(spec.name, onnx_dtype(spec.dtype), list(spec.shape))


def export_onnx(graph: Graph) -> onnx.ModelProto:
    """Export `graph` with its weights as a checked ONNX model (opset OPSET).
    Raises UnsupportedExport naming the node and op it cannot map."""
    return export_with_origins(graph)[0]


def export_with_origins(graph: Graph) -> tuple[onnx.ModelProto, dict[str, str]]:
    """export_onnx, plus each ONNX node's engine node (name -> name): the
    lineage an onnxruntime profile of the export is mapped back through."""
    specs = infer_specs(graph)
    ctx = ExportContext(specs, dict(graph.initializers))
    for name, arr in graph.initializers.items():
        ctx.initializers.append(numpy_helper.from_array(arr, name))
    for node in topological_order(graph):
        fn = EXPORTERS.get(node.op)
        if fn is None:
            raise UnsupportedExport(
                f"node {node.name!r} ({node.op}): no ONNX mapping for op {node.op!r}; "
                f"exportable ops: {', '.join(sorted(EXPORTERS))}")
        ctx.exporting = node.name
        fn(ctx, node, get_op(node.op).resolve_attrs(node.attrs))
    read = {t for n in ctx.nodes for t in n.input} | set(graph.outputs)
    onnx_graph = helper.make_graph(
        ctx.nodes, graph.name,
        inputs=[_value_info(s) for s in graph.inputs],
        outputs=[_value_info(specs[t]) for t in graph.outputs],
        initializer=[t for t in ctx.initializers if t.name in read],  # re-laid-out originals go
    )
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="roofwatch-engine")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model, ctx.origins


def save_onnx(graph: Graph, path: str | Path) -> Path:
    """Export `graph` and write it to `path` atomically and durably (a failed
    export leaves nothing behind); returns the path."""
    return write_bytes_atomic(path, export_onnx(graph).SerializeToString())


__all__ = ["EXPORTERS", "ExportContext", "OPSET", "export_onnx", "export_with_origins", "exporter", "save_onnx"]
