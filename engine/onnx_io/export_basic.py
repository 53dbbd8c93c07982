"""Exporters for dense, elementwise and shape ops: one ONNX node each, except
Linear on a >2-D input (MatMul + Add)."""
from __future__ import annotations

from typing import Any

from engine.ir import Node
from engine.onnx_io.export_graph import ExportContext, exporter

# engine op -> ONNX op with the same inputs, outputs and semantics, no attributes
SAME_OP = {"Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Add": "Add", "Sub": "Sub", "Mul": "Mul",
           "Div": "Div", "MatMul": "MatMul"}


@exporter(*SAME_OP)
def export_same(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    ctx.emit(SAME_OP[node.op], node.inputs, node.outputs, name=node.name)


@exporter("Linear")
def export_linear(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    # The engine stores W as (in, out), which is Gemm's B with transB=0.
    if len(ctx.shape(node.inputs[0])) == 2:
        ctx.emit("Gemm", node.inputs, node.outputs, name=node.name)
        return
    if len(node.inputs) == 2:
        ctx.emit("MatMul", node.inputs, node.outputs, name=node.name)
        return
    x, w, b = node.inputs
    y = ctx.emit("MatMul", [x, w], f"{node.name}/matmul", name=f"{node.name}/matmul")
    ctx.emit("Add", [y, b], node.outputs, name=f"{node.name}/bias")


@exporter("Gelu")
def export_gelu(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    ctx.emit("Gelu", node.inputs, node.outputs, name=node.name, approximate=str(attrs["approximate"]))


@exporter("Softmax")
def export_softmax(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    ctx.emit("Softmax", node.inputs, node.outputs, name=node.name, axis=int(attrs["axis"]))


@exporter("Concat")
def export_concat(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    ctx.emit("Concat", node.inputs, node.outputs, name=node.name, axis=int(attrs["axis"]))


@exporter("Transpose")
def export_transpose(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    ctx.emit("Transpose", node.inputs, node.outputs, name=node.name, perm=[int(p) for p in attrs["perm"]])


@exporter("Gather")
def export_gather(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    ctx.emit("Gather", node.inputs, node.outputs, name=node.name, axis=int(attrs.get("axis", 0)))


@exporter("Reshape")
def export_reshape(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    # the output shape is static, so the resolved shape (no -1 or 0) is exported
    shape = ctx.shape(node.outputs[0])
    ctx.emit("Reshape", [node.inputs[0], ctx.const(f"{node.name}/shape", list(shape))], node.outputs,
             name=node.name)


@exporter("Slice")
def export_slice(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    starts, ends = list(attrs["starts"]), list(attrs["ends"])
    axes = attrs.get("axes")
    axes = list(range(len(starts))) if axes is None else list(axes)
    inputs = [node.inputs[0], ctx.const(f"{node.name}/starts", starts), ctx.const(f"{node.name}/ends", ends),
              ctx.const(f"{node.name}/axes", axes)]
    ctx.emit("Slice", inputs, node.outputs, name=node.name)
