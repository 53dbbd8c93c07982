"""How one Linear-like or Conv node is quantized: the hook engine.quant.modes calls.

Quantizable: Linear and FusedLinear whose weight is a 2-D float32
initializer, MatMul(x, W) with W such an initializer (x @ W over the last
axis is what Linear computes), and Conv / FusedConv with a 4-D float32
initializer weight (kernels in engine/ops/quantized_conv.py: Int8Conv,
Fp16Conv, FakeQuantConv; per-channel means per output channel, weight axis
0). Modes (`DENSE_MODES`):

- fp16             Fp16Linear: weight stored float16, fp32 compute.
- int8             Int8Linear: int8 weight, one scale per output channel.
- int8-per-tensor  Int8Linear: int8 weight, one scale for the whole weight.
- int8-outlier     Int8OutlierLinear: per-channel int8 W_main + sparse fp32
                   W_outlier (engine.quant.outlier, 99.9th percentile clip).
                   Conv nodes have no outlier split: in this mode they are
                   quantized as in int8 (per-channel Int8Conv).

The int8 modes quantize the activation x at run time with one scale for the
tensor: dynamic (act_amax None) or static (act_amax from calibration), signed
or unsigned (act_unsigned, allowed only where engine.quant.ranges says x is
never negative). fp16 leaves x in fp32 and ignores act_amax / act_unsigned.
With fake=True the node is a FakeQuantLinear (FakeQuantConv) computing in
fp32 on the same rounded weights and activations (for accuracy evaluation).

Tolerance (documented bound for the Linear-like kernels, checked by
tests/engine/test_ops_quantized.py; a conv is the same GEMM over im2col):
for every output element, with sx the activation scale, sw_n the weight
scale of output channel n, and no activation clipping (dynamic scale, or a
static act_amax >= max |x|):

  int8 modes:  |y_q - y| <= sw_n/2 * sum_k |x_k| + sx/2 * sum_k |w_kn| + K * sx * sw_n / 4
  fp16:        |y_q - y| <= sum_k |x_k| * (2^-11 |w_kn| + 2^-25)

(each operand's rounding error is at most half a step: sw_n/2, sx/2, or
fp16's relative 2^-11 and absolute subnormal 2^-25), plus fp32 summation
slack. `error_bound` computes it. On standard-normal x and He-scaled weights
the relative RMS error (||y_q - y|| / ||y||) stays below REL_RMS_TOLERANCE.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.ir import Graph, Node
from engine.quant import ranges
from engine.quant.numeric import dequantize, quantize_weight, scale_for, to_fp16
from engine.quant.outlier import split_outliers

DENSE_MODES = ("fp16", "int8", "int8-per-tensor", "int8-outlier")
LINEAR_OPS = ("Linear", "FusedLinear", "MatMul")
CONV_OPS = ("Conv", "FusedConv")
QUANTIZABLE_OPS = LINEAR_OPS + CONV_OPS
# relative RMS error vs fp32 on N(0, 1) inputs and He-scaled weights, dynamic signed activation
# scales; measured at K = 13..1024 about 2.1e-4, 1.2e-2, 1.4e-2, 1.2e-2 (the worst-case bound in
# the docstring is ~20x looser: rounding errors mostly cancel); these allow ~1.7x that
REL_RMS_TOLERANCE: Mapping[str, float] = {"fp16": 4e-4, "int8": 0.02, "int8-per-tensor": 0.025, "int8-outlier": 0.02}
FP32_SLACK = 1e-5  # relative to sum |x||w|: fp32 summation error of a K <= 10^4 GEMM, both sides


def quantizable(graph: Graph, node: Node) -> bool:
    """Linear / FusedLinear / MatMul reading a 2-D, Conv / FusedConv a 4-D, float32 initializer weight."""
    if node.op not in QUANTIZABLE_OPS or len(node.inputs) < 2:
        return False
    w = graph.initializers.get(node.inputs[1])
    ndim = 4 if node.op in CONV_OPS else 2
    return (w is not None and w.ndim == ndim and w.size > 0 and w.dtype == np.float32
            and node.inputs[0] not in graph.initializers)


def _check_args(graph: Graph, node: Node, mode: str, act_amax: Any, act_unsigned: Any) -> None:
    where = f"node {node.name!r} ({node.op})"
    if mode not in DENSE_MODES:
        raise ValueError(f"{where}: unknown dense quantization mode {mode!r}; valid modes: {', '.join(DENSE_MODES)}")
    if not quantizable(graph, node):
        raise ValueError(
            f"{where} cannot be quantized: only {', '.join(LINEAR_OPS)} nodes whose weight (input #1) "
            f"is a 2-D float32 initializer, and {', '.join(CONV_OPS)} nodes with a 4-D one, can"
        )
    if act_amax is not None:
        ok = isinstance(act_amax, (int, float, np.floating, np.integer)) and not isinstance(act_amax, bool)
        if not ok or not math.isfinite(float(act_amax)) or float(act_amax) <= 0:
            raise ValueError(f"{where}: act_amax must be None (dynamic) or a finite number > 0, got {act_amax!r}")
    if not isinstance(act_unsigned, (bool, np.bool_)):
        raise ValueError(f"{where}: act_unsigned must be True or False, got {act_unsigned!r}")
    if act_unsigned and mode != "fp16" and not ranges.nonnegative(graph, node.inputs[0]):
        raise ValueError(
            f"{where}: act_unsigned needs a non-negative input, but {node.inputs[0]!r} may be negative "
            "(see engine.quant.ranges.nonnegative)"
        )


def _unique(graph: Graph, name: str, value: np.ndarray) -> str:
    """`name`, refusing a clash with a different tensor (the same array again is
    fine: a weight shared by two nodes quantized the same way)."""
    existing = graph.initializers.get(name)
    if existing is not None and existing.dtype == value.dtype and np.array_equal(existing, value):
        return name
    if existing is not None or name in {s.name for s in graph.inputs} or any(name in n.outputs for n in graph.nodes):
        raise ValueError(f"cannot add initializer {name!r}: the graph already has a different tensor of that name")
    return name


TAGS = {"fp16": "fp16", "int8": "int8c", "int8-per-tensor": "int8t", "int8-outlier": "int8o"}


def _adder(graph: Graph, new: dict[str, np.ndarray], prefix: str):
    def add(suffix: str, value: np.ndarray) -> str:
        name = _unique(graph, prefix + suffix, value)
        new[name] = value
        return name
    return add


def quantize_node(graph: Graph, node: Node, mode: str, *, act_amax: float | None = None,
                  act_unsigned: bool = False, fake: bool = False) -> tuple[Node, dict[str, np.ndarray]]:
    """The replacement for `node` in `mode` (same name, same outputs) and the
    initializers it reads that `graph` lacks. Raises ValueError naming the
    node for a mode, node or argument that does not fit."""
    _check_args(graph, node, mode, act_amax, act_unsigned)
    if node.op in CONV_OPS:
        return _quantize_conv(graph, node, mode, act_amax=act_amax, act_unsigned=act_unsigned, fake=fake)
    x, w_name = node.inputs[0], node.inputs[1]
    bias = tuple(node.inputs[2:3]) if node.op != "MatMul" else ()
    w = graph.initializers[w_name]
    epilogue = ({"activation": node.attrs.get("activation"), "approximate": node.attrs.get("approximate", "none")}
                if node.op == "FusedLinear" else {})
    act = {"act_amax": None if act_amax is None else float(act_amax), "act_unsigned": bool(act_unsigned)}
    new: dict[str, np.ndarray] = {}
    add = _adder(graph, new, f"{w_name}.{TAGS[mode]}{'.fake' if fake else ''}")
    if fake and mode == "int8-outlier":  # W_main meets fake-quantized x, W_outlier the fp32 x, as in the kernel
        split = split_outliers(w)
        if not bias:
            bias = (add(".bias", np.zeros(w.shape[1], np.float32)),)
        main, outliers = add("", dequantize(split.weight, split.scale)), add(".outliers", split.outlier_matrix().toarray())
        inputs, op, attrs = (x, main, *bias, outliers), "FakeQuantLinear", dict(act)
    elif fake:
        attrs = {"act_bits": 0} if mode == "fp16" else dict(act)
        inputs, op = (x, add("", fake_quant_weight(w, mode)), *bias), "FakeQuantLinear"
    elif mode == "fp16":
        inputs, op, attrs = (x, add("", to_fp16(w)), *bias), "Fp16Linear", {}
    elif mode == "int8-outlier":
        split = split_outliers(w)
        inputs = (x, add("", split.weight), add(".scale", split.scale), add(".values", split.values),
                  add(".indices", split.indices), add(".indptr", split.indptr), *bias)
        op, attrs = "Int8OutlierLinear", dict(act)
    else:
        wq, scale = quantize_weight(w, per_channel=mode == "int8")
        inputs, op, attrs = (x, add("", wq), add(".scale", scale), *bias), "Int8Linear", dict(act)
    return Node(node.name, op, inputs, node.outputs, {**attrs, **epilogue}), new


def _quantize_conv(graph: Graph, node: Node, mode: str, *, act_amax: float | None, act_unsigned: bool,
                   fake: bool) -> tuple[Node, dict[str, np.ndarray]]:
    mode = "int8" if mode == "int8-outlier" else mode  # no outlier split for conv weights
    x, w_name, bias = node.inputs[0], node.inputs[1], tuple(node.inputs[2:3])
    w = graph.initializers[w_name]
    conv = dict(node.attrs)  # Conv's attributes, and FusedConv's activation
    act = {"act_amax": None if act_amax is None else float(act_amax), "act_unsigned": bool(act_unsigned)}
    new: dict[str, np.ndarray] = {}
    add = _adder(graph, new, f"{w_name}.{TAGS[mode]}{'.fake' if fake else ''}")
    if mode == "fp16":
        w16 = to_fp16(w)
        if fake:
            inputs, op, attrs = (x, add("", w16.astype(np.float32)), *bias), "FakeQuantConv", {"act_bits": 0}
        else:
            inputs, op, attrs = (x, add("", w16), *bias), "Fp16Conv", {}
    else:
        wq, scale = quantize_weight(w, per_channel=mode == "int8", axis=0)
        if fake:
            fq = dequantize(wq, scale.reshape(-1, 1, 1, 1))
            inputs, op, attrs = (x, add("", fq), *bias), "FakeQuantConv", act
        else:
            inputs, op, attrs = (x, add("", wq), add(".scale", scale), *bias), "Int8Conv", act
    return Node(node.name, op, inputs, node.outputs, {**conv, **attrs}), new


def error_bound(x: np.ndarray, w: np.ndarray, mode: str, *, act_amax: float | None = None,
                act_unsigned: bool = False) -> np.ndarray:
    """The documented per-element bound on |y_q - x @ w| (module docstring)
    for a 2-D x, valid when act_amax (if given) is >= max |x|."""
    x64, w64 = np.abs(x.astype(np.float64)), np.abs(w.astype(np.float64))
    exact = x64 @ w64
    slack = FP32_SLACK * exact + 1e-30
    if mode == "fp16":
        return exact * 2.0 ** -11 + x64.sum(axis=1, keepdims=True) * 2.0 ** -25 + slack
    if mode not in DENSE_MODES:
        raise ValueError(f"unknown dense quantization mode {mode!r}; valid modes: {', '.join(DENSE_MODES)}")
    if act_amax is None:
        act_amax = max(float(x.max()), 0.0) if act_unsigned else float(np.abs(x).max())
    sx = float(scale_for(act_amax, unsigned=act_unsigned))
    if mode == "int8-outlier":
        sw = split_outliers(w).scale.astype(np.float64)
    else:
        sw = quantize_weight(w, per_channel=mode == "int8")[1].astype(np.float64)
    k = w.shape[0]
    return (sw / 2 * x64.sum(axis=1, keepdims=True) + sx / 2 * w64.sum(axis=0)
            + k * sx * sw / 4 + slack)


def fake_quant_weight(w: np.ndarray, mode: str) -> np.ndarray:
    """The fp32 weight a FakeQuantLinear in `mode` reads (for callers that build their own)."""
    if mode == "fp16":
        return to_fp16(w).astype(np.float32)
    if mode == "int8-outlier":
        return split_outliers(w).reconstruct()
    if mode not in DENSE_MODES:
        raise ValueError(f"unknown dense quantization mode {mode!r}; valid modes: {', '.join(DENSE_MODES)}")
    return dequantize(*quantize_weight(w, per_channel=mode == "int8"))


__all__ = ["CONV_OPS", "DENSE_MODES", "LINEAR_OPS", "QUANTIZABLE_OPS", "REL_RMS_TOLERANCE", "error_bound", "fake_quant_weight",
           "quantizable", "quantize_node"]
