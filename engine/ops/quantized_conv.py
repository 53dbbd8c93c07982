"""Reduced-precision replacements for Conv / FusedConv (emitted by
engine.quant.dense). The Conv attributes (strides, pads, dilations, group,
kernel_shape) and the im2col + GEMM layout are Conv2d's; activation is None
or "Relu" (FusedConv's).

- Int8Conv (input, weight int8 (Cout, Cin/group, kH, kW), weight_scale
  float32 (Cout,) or (1,), [bias]): x quantized per tensor at run time, as
  Int8Linear (act_amax: None dynamic or a static float; act_unsigned); the
  im2col columns of the quantized x (zero padding is the quantized 0, so
  exact) meet the int8 kernels in float32 GEMMs over chunks of the reduced
  axis Cin/group*kH*kW no longer than engine.ops.quantized.exact_chunk, so
  the accumulation is exactly int32's; then y = float32(acc) * (x_scale *
  weight_scale[cout]) + bias, then the Relu.
- Fp16Conv (input, weight float16, [bias]): upcast per call, fp32 conv.
- FakeQuantConv (input, weight float32 already on its grid, [bias]): x
  fake-quantized as Int8Conv's (act_bits 8) or left alone (0), fp32 conv.

FLOPs: Conv2d's (+ the Relu's, one per output), plus per element a dynamic
scale's max (N*Cin*H*W), x's quantize multiply (N*Cin*H*W) and the
accumulator's dequantize multiply (one per output); Fp16Conv adds the
weight upcast (one per weight), FakeQuantConv quantize + dequantize of x.
Bytes: the default minimum traffic at the stored itemsizes.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.ops.base import Op, Shape, ShapeError, fmt_shape, numel
from engine.ops.conv import Conv2d, conv_kernel_bytes, im2col_bytes, pad_spatial, window_view
from engine.ops.quantized import (
    ACT_QUANT_DEFAULTS,
    FAKE_QUANT_DEFAULTS,
    INT32_MAX,
    NEEDS_DTYPE,
    W_QMAX,
    _check_act_quant,
    _check_fake_quant,
    _check_weight_scale,
    act_quant_bytes,
    act_quant_flops,
    act_scale,
    exact_chunk,
    fake_quant_bytes,
    fake_quant_flops,
    fake_quantize_input,
    float_temp_bytes,
)
from engine.quant.numeric import fp16_to_fp32, qrange, quantize

_QUANT_ATTRS = ("activation", "act_amax", "act_unsigned", "act_bits")


def _conv_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if k not in _QUANT_ATTRS}


def _check_relu(attrs: Mapping[str, Any]) -> None:
    if attrs.get("activation") not in (None, "Relu"):
        raise ShapeError(f"attribute activation is {attrs.get('activation')!r}; expected None or 'Relu'")


def _conv_shape(cls: type[Op], input_shapes: Sequence[Shape], attrs: Mapping[str, Any], bias_index: int,
                names: Sequence[str] | None) -> Shape:
    x, w = tuple(input_shapes[0]), tuple(input_shapes[1])
    (out,) = Conv2d.infer_shape([x, w], _conv_attrs(attrs), None if names is None else names[:2])
    cls.check_input_shape(bias_index, input_shapes, (w[0],), f"{cls.label(1, names)} has shape {fmt_shape(w)}", names)
    return out


def _finish(y: np.ndarray, bias: np.ndarray | None, attrs: Mapping[str, Any]) -> np.ndarray:
    if bias is not None:
        np.add(y, bias.reshape(1, -1, 1, 1), out=y)
    return np.maximum(y, 0, out=y) if attrs.get("activation") == "Relu" else y


def _relu_flops(attrs: Mapping[str, Any], out: Shape) -> int:
    return numel(out) if attrs.get("activation") == "Relu" else 0


def int_conv(xq: np.ndarray, wq: np.ndarray, attrs: Mapping[str, Any], x_qmax: int) -> np.ndarray:
    """Conv of integer-valued float32 xq with int8 wq, int32 accumulation
    semantics (float32 when one exact chunk covers the reduced axis, else int32)."""
    strides, pads, dilations, group = Conv2d.geometry(attrs)
    (n, cout, ho, wo), = Conv2d.infer_shape([xq.shape, wq.shape], attrs)
    _, cin_g, kh, kw = wq.shape
    k = cin_g * kh * kw
    view = window_view(pad_spatial(xq, pads), (kh, kw), strides, dilations, (ho, wo))
    cols = view.reshape(n, group, k, ho * wo)  # the im2col copy, as Conv2d
    kernels = wq.reshape(group, cout // group, k).astype(np.float32)
    chunk = exact_chunk(x_qmax)
    if k <= chunk:
        return np.matmul(kernels, cols).reshape(n, cout, ho, wo)
    acc = np.matmul(kernels[:, :, :chunk], cols[:, :, :chunk]).astype(np.int32)
    for k0 in range(chunk, k, chunk):
        acc += np.matmul(kernels[:, :, k0:k0 + chunk], cols[:, :, k0:k0 + chunk]).astype(np.int32)
    return acc.reshape(n, cout, ho, wo)


class Int8Conv(Op):
    """int8 conv with exact int32 accumulation; see the module docstring."""

    op_type = "Int8Conv"
    multithreaded = True  # BLAS
    input_roles = ("input", "weight", "weight_scale", "bias")
    min_inputs = 3
    attr_defaults = {**Conv2d.attr_defaults, "activation": None, **ACT_QUANT_DEFAULTS}
    input_dtypes = ("float32", "int8", "float32", "float32")
    dtype_error = NEEDS_DTYPE

    @classmethod
    def infer_shape(cls, input_shapes, attrs, names=None):
        _check_relu(attrs)
        _check_act_quant(attrs)
        out = _conv_shape(cls, input_shapes, attrs, 3, names)
        w = tuple(input_shapes[1])
        _check_weight_scale(cls, input_shapes, w[0], names)
        x_qmax = qrange(8, bool(attrs.get("act_unsigned", False)))[1]
        k = w[1] * w[2] * w[3]
        if k * x_qmax * W_QMAX > INT32_MAX:
            raise ShapeError(f"{cls.label(1, names)} reduces over {k} values; an int32 accumulator overflows")
        return (out,)

    @classmethod
    def run(cls, inputs, attrs):
        x, wq, w_scale = inputs[0], inputs[1], inputs[2]
        unsigned = bool(attrs.get("act_unsigned", False))
        sx = act_scale(x, attrs)
        xq = quantize(x, sx, unsigned=unsigned, out_dtype=np.float32)
        acc = int_conv(xq, wq, _conv_attrs(attrs), qrange(8, unsigned)[1])
        y = acc if acc.dtype == np.float32 else acc.astype(np.float32)
        np.multiply(y, (sx * w_scale).reshape(1, -1, 1, 1), out=y)
        return (_finish(y, inputs[3] if len(inputs) > 3 else None, attrs),)

    @classmethod
    def flops(cls, input_shapes, attrs):
        shapes = [input_shapes[0], input_shapes[1], *input_shapes[3:4]]
        (out,) = Conv2d.infer_shape(shapes[:2], _conv_attrs(attrs))
        quant = act_quant_flops(numel(tuple(input_shapes[0])), attrs) + numel(out)
        return Conv2d.flops(shapes, _conv_attrs(attrs)) + quant + _relu_flops(attrs, out)

    @classmethod
    def kernel_bytes(cls, input_shapes, output_shapes, dtypes, attrs):
        """The quantized x, the weights converted to float32 and the im2col copy."""
        return (cls.bytes(input_shapes, output_shapes, dtypes) + act_quant_bytes(input_shapes[0], attrs, 1)
                + float_temp_bytes(input_shapes[1]) + im2col_bytes(input_shapes[:2], _conv_attrs(attrs)))


class Fp16Conv(Op):
    """fp16-stored conv weights, fp32 compute; see the module docstring."""

    op_type = "Fp16Conv"
    multithreaded = True  # BLAS
    input_roles = Conv2d.input_roles
    min_inputs = 2
    attr_defaults = {**Conv2d.attr_defaults, "activation": None}
    input_dtypes = ("float32", "float16", "float32")
    dtype_error = NEEDS_DTYPE

    @classmethod
    def infer_shape(cls, input_shapes, attrs, names=None):
        _check_relu(attrs)
        return (_conv_shape(cls, input_shapes, attrs, 2, names),)

    @classmethod
    def run(cls, inputs, attrs):
        (y,) = Conv2d.run([inputs[0], fp16_to_fp32(inputs[1])], _conv_attrs(attrs))
        return (_finish(y, inputs[2] if len(inputs) > 2 else None, attrs),)

    @classmethod
    def flops(cls, input_shapes, attrs):
        (out,) = Conv2d.infer_shape(input_shapes[:2], _conv_attrs(attrs))
        return (Conv2d.flops(input_shapes, _conv_attrs(attrs)) + numel(tuple(input_shapes[1]))
                + _relu_flops(attrs, out))

    @classmethod
    def kernel_bytes(cls, input_shapes, output_shapes, dtypes, attrs):
        """The weights converted to float32 on every call and Conv2d's kernel buffers."""
        return (cls.bytes(input_shapes, output_shapes, dtypes) + float_temp_bytes(input_shapes[1])
                + conv_kernel_bytes(input_shapes[:2], _conv_attrs(attrs)))


class FakeQuantConv(Op):
    """fp32 conv on fake-quantized weights (stored so) and activations; see the module docstring."""

    op_type = "FakeQuantConv"
    multithreaded = True  # BLAS
    input_roles = Conv2d.input_roles
    min_inputs = 2
    attr_defaults = {**Conv2d.attr_defaults, "activation": None, **FAKE_QUANT_DEFAULTS}

    @classmethod
    def infer_shape(cls, input_shapes, attrs, names=None):
        _check_relu(attrs)
        _check_fake_quant(attrs)
        return (_conv_shape(cls, input_shapes, attrs, 2, names),)

    @classmethod
    def run(cls, inputs, attrs):
        (y,) = Conv2d.run([fake_quantize_input(inputs[0], attrs), inputs[1]], _conv_attrs(attrs))
        return (_finish(y, inputs[2] if len(inputs) > 2 else None, attrs),)

    @classmethod
    def flops(cls, input_shapes, attrs):
        (out,) = Conv2d.infer_shape(input_shapes[:2], _conv_attrs(attrs))
        quant = fake_quant_flops(numel(tuple(input_shapes[0])), attrs)
        return Conv2d.flops(input_shapes, _conv_attrs(attrs)) + quant + _relu_flops(attrs, out)

    @classmethod
    def kernel_bytes(cls, input_shapes, output_shapes, dtypes, attrs):
        """x quantized then dequantized (two float32 temporaries) and Conv2d's kernel buffers."""
        return (cls.bytes(input_shapes, output_shapes, dtypes) + fake_quant_bytes(input_shapes[0], attrs)
                + conv_kernel_bytes(input_shapes[:2], _conv_attrs(attrs)))


__all__ = ["FakeQuantConv", "Fp16Conv", "Int8Conv", "int_conv"]
