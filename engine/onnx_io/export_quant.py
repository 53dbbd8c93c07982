"""Exporters for the dense quantized ops engine.quant.dense emits, in ONNX's
QDQ form (QuantizeLinear -> DequantizeLinear around fp32 MatMul / Conv),
which onnxruntime fuses into its integer kernels where it can:

- the activation: a static scale is a constant (a signed x is first clipped
  to [-amax, amax]: QuantizeLinear saturates at -128, the engine at -127); a
  dynamic one is ReduceMax(|x|) (ReduceMax(x) floored at 0 when unsigned)
  / qmax, and 1 when that is 0 — Int8Linear's act_scale in ONNX ops;
- int8 weights: DequantizeLinear with the per-channel scales along the
  output axis (1 for a Linear's (in, out) weight, 0 for a Conv's), so the
  file keeps 1-byte weights; fp16 weights: Cast to float;
- Int8OutlierLinear's sparse W_outlier: a dense fp32 MatMul on the
  unquantized x (standard ONNX has no sparse matmul), so the file holds it
  densely; FakeQuantLinear's exact_weight likewise;
- bias Add and the activation as the fused ops export them.

QuantizeLinear divides by the scale where the engine multiplies by its
reciprocal, so a value within an ulp of a rounding boundary may land one
step apart: outputs agree to within a quantization step, not bit for bit
(tests/engine/test_onnx_quant_export.py).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto

from engine.ir import Node
from engine.onnx_io.export_graph import EXPORTERS, ExportContext, exporter
from engine.onnx_io.export_vision import _given
from engine.quant.numeric import qrange, scale_for
from engine.quant.outlier import OutlierSplit


def _quantized_input(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> str:
    """x after quantize + dequantize with the node's activation scale."""
    x, name = node.inputs[0], node.name
    unsigned = bool(attrs.get("act_unsigned", False))
    qmax = qrange(8, unsigned)[1]
    zero = ctx.const(f"{name}/x_zero_point", np.array(0, np.uint8 if unsigned else np.int8))
    amax = attrs.get("act_amax")
    if amax is not None:
        scale = ctx.const(f"{name}/x_scale", np.asarray(scale_for(float(amax), unsigned=unsigned), np.float32))
        if not unsigned:
            lo, hi = (ctx.const(f"{name}/x_{s}", np.array(v, np.float32)) for s, v in (("lo", -amax), ("hi", amax)))
            x = ctx.emit("Clip", [x, lo, hi], f"{name}/x_clipped", name=f"{name}/x_clip")
    else:
        if unsigned:
            top = ctx.emit("ReduceMax", [x], f"{name}/x_max", name=f"{name}/x_max", keepdims=0)
            amax_t = ctx.emit("Max", [top, ctx.const(f"{name}/x_floor", np.array(0, np.float32))],
                              f"{name}/x_amax", name=f"{name}/x_amax")
        else:
            absx = ctx.emit("Abs", [x], f"{name}/x_abs", name=f"{name}/x_abs")
            amax_t = ctx.emit("ReduceMax", [absx], f"{name}/x_amax", name=f"{name}/x_amax", keepdims=0)
        raw = ctx.emit("Div", [amax_t, ctx.const(f"{name}/x_qmax", np.array(qmax, np.float32))],
                       f"{name}/x_raw_scale", name=f"{name}/x_raw_scale")
        positive = ctx.emit("Greater", [amax_t, ctx.const(f"{name}/x_zero", np.array(0, np.float32))],
                            f"{name}/x_positive", name=f"{name}/x_positive")
        scale = ctx.emit("Where", [positive, raw, ctx.const(f"{name}/x_one", np.array(1, np.float32))],
                         f"{name}/x_scale", name=f"{name}/x_scale")
    q = ctx.emit("QuantizeLinear", [x, scale, zero], f"{name}/x_q", name=f"{name}/x_quantize")
    return ctx.emit("DequantizeLinear", [q, scale, zero], f"{name}/x_dq", name=f"{name}/x_dequantize")


def _int8_weight(ctx: ExportContext, node: Node, axis: int) -> str:
    wq, scale = ctx.value(node, 1, "weight"), ctx.value(node, 2, "weight_scale")
    if scale.shape == (1,):  # per tensor: ONNX wants a scalar scale
        s, z, extra = scale.reshape(()), np.array(0, np.int8), {}
    else:
        s, z, extra = scale, np.zeros(scale.shape, np.int8), {"axis": axis}
    return ctx.emit("DequantizeLinear", [node.inputs[1], ctx.const(f"{node.name}/w_scale", s),
                                         ctx.const(f"{node.name}/w_zero_point", z)],
                    f"{node.name}/w_dq", name=f"{node.name}/w_dequantize", **extra)


def _fp16_weight(ctx: ExportContext, node: Node) -> str:
    return ctx.emit("Cast", [node.inputs[1]], f"{node.name}/w_fp32", name=f"{node.name}/w_cast", to=TensorProto.FLOAT)


def _tail(ctx: ExportContext, node: Node, attrs: dict[str, Any], y: str, bias: str | None) -> None:
    """Bias add, then the activation (as the fused ops export it), into the node's outputs."""
    act = attrs.get("activation")
    if bias is not None:
        y = ctx.emit("Add", [y, bias], node.outputs if act is None else f"{node.name}/biased", name=f"{node.name}/bias")
    if act is not None:
        act_attrs = {"approximate": attrs.get("approximate", "none")} if act == "Gelu" else {}
        EXPORTERS[act](ctx, Node(f"{node.name}/{act.lower()}", act, (y,), node.outputs, act_attrs), act_attrs)
    elif bias is None:
        ctx.emit("Identity", [y], node.outputs, name=f"{node.name}/out")


def _linear(ctx: ExportContext, node: Node, attrs: dict[str, Any], x: str, w: str, bias_index: int,
            exact: np.ndarray | None = None) -> None:
    y = ctx.emit("MatMul", [x, w], f"{node.name}/matmul", name=f"{node.name}/matmul")
    if exact is not None:
        extra = ctx.emit("MatMul", [node.inputs[0], ctx.const(f"{node.name}/w_exact", exact)],
                         f"{node.name}/matmul_exact", name=f"{node.name}/matmul_exact")
        y = ctx.emit("Add", [y, extra], f"{node.name}/sum", name=f"{node.name}/sum")
    bias = node.inputs[bias_index] if len(node.inputs) > bias_index else None
    _tail(ctx, node, attrs, y, bias)


def _conv(ctx: ExportContext, node: Node, attrs: dict[str, Any], x: str, w: str, bias_index: int) -> None:
    bias = [node.inputs[bias_index]] if len(node.inputs) > bias_index else []
    y = ctx.emit("Conv", [x, w, *bias], f"{node.name}/conv", name=f"{node.name}/conv",
                 **_given(attrs, "strides", "pads", "dilations", "kernel_shape"), group=int(attrs.get("group", 1)))
    _tail(ctx, node, attrs, y, None)  # the bias went into the Conv


def _lowering(node: Node):
    """(_linear or _conv, the weight's output axis) for a quantized Linear or Conv node."""
    return (_conv, 0) if node.op.endswith("Conv") else (_linear, 1)


@exporter("Int8Linear", "Int8Conv")
def export_int8(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    lower, axis = _lowering(node)
    lower(ctx, node, attrs, _quantized_input(ctx, node, attrs), _int8_weight(ctx, node, axis=axis), 3)


@exporter("Int8OutlierLinear")
def export_int8_outlier_linear(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    wq = ctx.value(node, 1, "weight")
    split = OutlierSplit(wq, ctx.value(node, 2, "weight_scale"), ctx.value(node, 3, "outlier_values"),
                         ctx.value(node, 4, "outlier_indices"), ctx.value(node, 5, "outlier_indptr"), 0.0)
    dense = split.outlier_matrix().toarray().astype(np.float32)
    _linear(ctx, node, attrs, _quantized_input(ctx, node, attrs), _int8_weight(ctx, node, axis=1), 6, dense)


@exporter("Fp16Linear", "Fp16Conv")
def export_fp16(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    _lowering(node)[0](ctx, node, attrs, node.inputs[0], _fp16_weight(ctx, node), 2)


@exporter("FakeQuantLinear", "FakeQuantConv")
def export_fake_quant(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    x = _quantized_input(ctx, node, attrs) if attrs.get("act_bits", 8) else node.inputs[0]
    if node.op == "FakeQuantConv":
        _conv(ctx, node, attrs, x, node.inputs[1], 2)
    else:
        exact = ctx.value(node, 3, "exact_weight") if len(node.inputs) > 3 else None
        _linear(ctx, node, attrs, x, node.inputs[1], 2, exact)
