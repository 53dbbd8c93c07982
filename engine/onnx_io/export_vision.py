"""Exporters for the vision ops: the engine's Conv keeps ONNX's attribute
names and NCHW layout, so it maps one to one."""
from __future__ import annotations

from typing import Any

from engine.ir import Node
from engine.onnx_io.export_graph import ExportContext, exporter


def _given(attrs: dict[str, Any], *names: str) -> dict[str, Any]:
    """The attributes that are set, as ONNX wants them (lists of ints)."""
    out: dict[str, Any] = {}
    for name in names:
        value = attrs.get(name)
        if value is not None:
            out[name] = [int(v) for v in value] if isinstance(value, (list, tuple)) else value
    return out


@exporter("Conv")
def export_conv(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    ctx.emit("Conv", node.inputs, node.outputs, name=node.name,
             **_given(attrs, "strides", "pads", "dilations", "kernel_shape"), group=int(attrs.get("group", 1)))


@exporter("MaxPool", "AveragePool")
def export_window_pool(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    extra = {"count_include_pad": int(attrs["count_include_pad"])} if node.op == "AveragePool" else {}
    ctx.emit(node.op, node.inputs, node.outputs, name=node.name,
             **_given(attrs, "kernel_shape", "strides", "pads", "dilations"), **extra)


@exporter("GlobalAveragePool")
def export_global_average_pool(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    ctx.emit("GlobalAveragePool", node.inputs, node.outputs, name=node.name)


@exporter("BatchNormalization")
def export_batch_norm(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    ctx.emit("BatchNormalization", node.inputs, node.outputs, name=node.name,
             epsilon=float(attrs["epsilon"]), momentum=float(attrs["momentum"]))


@exporter("LayerNormalization")
def export_layer_norm(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    ctx.emit("LayerNormalization", node.inputs, node.outputs, name=node.name,
             axis=int(attrs["axis"]), epsilon=float(attrs["epsilon"]))
