"""Importers for the vision ops (NCHW, 2-D)."""
from __future__ import annotations

from engine.onnx_io.import_graph import ImportContext, OnnxNode, attr_str, importer


def _notset(value: object) -> bool:
    return attr_str(value) == "NOTSET"


@importer("Conv")
def import_conv(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"strides": None, "pads": None, "dilations": None, "group": None, "kernel_shape": None,
                      "auto_pad": _notset})
    if len(ctx.shape(node.inputs[0])) != 4:
        raise node.fail(f"input {node.inputs[0]!r} has shape {ctx.shape(node.inputs[0])}; only 2-D (NCHW) "
                        "convolution is supported")
    attrs = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in node.attrs.items() if k != "auto_pad"}
    ctx.add(node, "Conv", [t for t in node.inputs if t], node.outputs, attrs)


def _window_attrs(ctx: ImportContext, node: OnnxNode, extra: dict) -> dict:
    node.check_attrs({"kernel_shape": None, "strides": None, "pads": None, "dilations": None,
                      "auto_pad": _notset, "ceil_mode": lambda v: v == 0, "storage_order": lambda v: v == 0,
                      **extra})
    if len([t for t in node.outputs if t]) != 1:
        raise node.fail("the Indices output is not supported")
    return {k: list(v) for k, v in node.attrs.items()
            if k in ("kernel_shape", "strides", "pads", "dilations")}


@importer("MaxPool")
def import_max_pool(ctx: ImportContext, node: OnnxNode) -> None:
    ctx.add(node, "MaxPool", node.inputs, node.outputs[:1], _window_attrs(ctx, node, {}))


@importer("AveragePool")
def import_average_pool(ctx: ImportContext, node: OnnxNode) -> None:
    attrs = _window_attrs(ctx, node, {"count_include_pad": lambda v: v in (0, 1)})
    ctx.add(node, "AveragePool", node.inputs, node.outputs,
            {**attrs, "count_include_pad": int(node.attrs.get("count_include_pad", 0))})


@importer("GlobalAveragePool")
def import_global_average_pool(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({})
    ctx.add(node, "GlobalAveragePool", node.inputs, node.outputs)


@importer("BatchNormalization")
def import_batch_norm(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"epsilon": None, "momentum": None, "training_mode": lambda v: v == 0,
                      "spatial": lambda v: v == 1})
    if len([t for t in node.outputs if t]) != 1:
        raise node.fail("the running-statistics outputs (training mode) are not supported")
    ctx.add(node, "BatchNormalization", node.inputs, node.outputs[:1],
            {k: float(v) for k, v in node.attrs.items() if k in ("epsilon", "momentum")})


@importer("LayerNormalization")
def import_layer_norm(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"axis": None, "epsilon": None, "stash_type": lambda v: v == 1})
    if len([t for t in node.outputs if t]) != 1:
        raise node.fail("the Mean and InvStdDev outputs are not supported")
    attrs = {"axis": int(node.attrs.get("axis", -1)), "epsilon": float(node.attrs.get("epsilon", 1e-5))}
    ctx.add(node, "LayerNormalization", [t for t in node.inputs if t], node.outputs[:1], attrs)
