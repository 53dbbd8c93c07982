"""2-D convolution (ONNX `Conv`, NCHW) as im2col + GEMM (the kernel is
engine.ops.conv_kernels), and the sliding-window arithmetic (attribute
checks, output sizes, padding, the whole-batch im2col view) that pooling and
the quantized convs share."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from engine.ops.base import Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape
from engine.ops.conv_kernels import ConvLayout, conv2d, conv_layout, image_threads, kernel_bytes_beyond_minimum


def int_list(attrs: Mapping[str, Any], name: str, length: int, default: int, minimum: int) -> tuple[int, ...]:
    """Attribute `name` as `length` ints >= minimum; None means `default` for each."""
    value = attrs.get(name)
    if value is None:
        return (default,) * length
    try:
        items = tuple(value)
    except TypeError:
        raise ShapeError(f"attribute {name} must be a list of {length} integers, got {value!r}") from None
    if len(items) != length or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        raise ShapeError(f"attribute {name} must be a list of {length} integers, got {list(items)!r}")
    if any(v < minimum for v in items):
        raise ShapeError(f"attribute {name} must hold integers >= {minimum}, got {list(items)!r}")
    return tuple(int(v) for v in items)


def window_output_size(
    size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, dilation: int, axis: str, where: str
) -> int:
    """Output length along one spatial axis (ONNX, ceil_mode=0)."""
    span = dilation * (kernel - 1) + 1
    padded = size + pad_begin + pad_end
    if padded < span:
        raise ShapeError(
            f"{where}: the {axis} axis is {size} (+{pad_begin}+{pad_end} padding) but the "
            f"{'dilated ' if dilation > 1 else ''}kernel spans {span}"
        )
    return (padded - span) // stride + 1


def pad_spatial(x: np.ndarray, pads: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """x (N, C, H, W) padded by ONNX-ordered pads [top, left, bottom, right]."""
    top, left, bottom, right = pads
    if not any(pads):
        return x
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def window_view(
    xp: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int], dilations: tuple[int, int],
    out_hw: tuple[int, int],
) -> np.ndarray:
    """Read-only view (N, C, kH, kW, Hout, Wout) of padded xp: element
    [n, c, i, j, y, x] is xp[n, c, y*sh + i*dh, x*sw + j*dw]. No copy."""
    n, c = xp.shape[:2]
    s_n, s_c, s_h, s_w = xp.strides
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, strides, dilations, out_hw
    return as_strided(
        xp, shape=(n, c, kh, kw, ho, wo),
        strides=(s_n, s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w), writeable=False,
    )


def im2col_bytes(input_shapes: Shapes, attrs: Attrs) -> int:
    """The traffic beyond the minimum of a whole-batch im2col (pad_spatial,
    window_view copied into columns, as engine.ops.quantized_conv.int_conv
    does), float32: the padded input (when padded) and the column matrix,
    each written once and read once. A 1x1 kernel at stride 1 without
    padding reshapes the input in place."""
    x, w = tuple(input_shapes[0]), tuple(input_shapes[1])
    strides, pads, _, group = Conv2d.geometry(attrs)
    ((n, _, ho, wo),) = Conv2d.infer_shape([x, w], attrs)
    _, cin_g, kh, kw = w
    extra = 0
    if any(pads):
        extra += 2 * 4 * n * x[1] * (x[2] + pads[0] + pads[2]) * (x[3] + pads[1] + pads[3])
    if (kh, kw) != (1, 1) or tuple(strides) != (1, 1) or any(pads):
        extra += 2 * 4 * n * group * cin_g * kh * kw * ho * wo
    return extra


def conv_kernel_bytes(input_shapes: Shapes, attrs: Attrs) -> int:
    """What Conv2d's kernel (engine.ops.conv_kernels) moves beyond the
    minimum, float32, for inputs (x, weight[, bias]) of these shapes."""
    return kernel_bytes_beyond_minimum(Conv2d.layout(input_shapes, attrs), len(input_shapes) > 2)


class Conv2d(Op):
    """ONNX `Conv` over NCHW float32 input (2-D only; auto_pad NOTSET).

    Inputs: x (N, Cin, H, W), weight (Cout, Cin/group, kH, kW), optional bias (Cout,).
    Attributes: strides [sh, sw] (default 1), pads [top, left, bottom, right]
    (ONNX order, default 0), dilations [dh, dw] (default 1), group (default 1),
    kernel_shape [kH, kW] (optional; if given it must match the weight).
    Output: (N, Cout, Hout, Wout), Hout = (H + top + bottom - dh*(kH-1) - 1) // sh + 1.

    Kernel (engine.ops.conv_kernels): per chunk of images, a padded copy,
    the im2col columns (wide rows at vertical stride 1), one matmul against
    the weight (group, Cout/group, Cin/group*kH*kW), the outputs copied out
    with the bias; the images split over the engine's threads, each with
    one-thread BLAS (one image: BLAS's own threads).

    FLOPs: 2 * N * Cout * Hout * Wout * (Cin/group) * kH * kW (a multiply-add
    is 2), plus N * Cout * Hout * Wout for the bias adds when there is a bias.
    Bytes: the default minimum traffic, input + weight + bias + output;
    kernel_bytes adds the kernel's chunk buffers (padded copies, columns,
    GEMM outputs before the copy out), each written and read once.
    """

    op_type = "Conv"
    multithreaded = True  # images over the engine's threads, or BLAS's (see threads)
    input_roles = ("input", "weight", "bias")
    min_inputs = 2
    attr_defaults = {"strides": None, "pads": None, "dilations": None, "group": 1, "kernel_shape": None}

    @classmethod
    def geometry(cls, attrs: Mapping[str, Any]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], int]:
        """(strides, pads, dilations, group), checked."""
        strides = int_list(attrs, "strides", 2, 1, 1)
        pads = int_list(attrs, "pads", 4, 0, 0)
        dilations = int_list(attrs, "dilations", 2, 1, 1)
        group = attrs.get("group", 1)
        if isinstance(group, bool) or not isinstance(group, (int, np.integer)) or group < 1:
            raise ShapeError(f"attribute group must be an integer >= 1, got {group!r}")
        return strides, pads, dilations, int(group)

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        x, w = tuple(input_shapes[0]), tuple(input_shapes[1])
        strides, pads, dilations, group = cls.geometry(attrs)
        if len(x) != 4:
            raise ShapeError(f"{cls.label(0, names)} has shape {fmt_shape(x)} but must be 4-D (N, C, H, W)")
        if len(w) != 4:
            raise ShapeError(
                f"{cls.label(1, names)} has shape {fmt_shape(w)} but must be 4-D (Cout, Cin/group, kH, kW)"
            )
        n, cin, h, wd = x
        cout, cin_g, kh, kw = w
        if cin != cin_g * group:
            raise ShapeError(
                f"{cls.label(0, names)} has shape {fmt_shape(x)} with {cin} channels but "
                f"{cls.label(1, names)} has shape {fmt_shape(w)}, which with group {group} "
                f"expects {cin_g * group} input channels"
            )
        if cout % group:
            raise ShapeError(
                f"{cls.label(1, names)} has shape {fmt_shape(w)}: {cout} output channels "
                f"do not divide into group {group}"
            )
        if attrs.get("kernel_shape") is not None:
            kshape = int_list(attrs, "kernel_shape", 2, 1, 1)
            if kshape != (kh, kw):
                raise ShapeError(
                    f"attribute kernel_shape {list(kshape)} does not match "
                    f"{cls.label(1, names)} of shape {fmt_shape(w)}"
                )
        cls.check_input_shape(2, input_shapes, (cout,), f"{cls.label(1, names)} has shape {fmt_shape(w)}", names)
        where = f"{cls.label(0, names)} of shape {fmt_shape(x)}"
        ho = window_output_size(h, kh, strides[0], pads[0], pads[2], dilations[0], "height", where)
        wo = window_output_size(wd, kw, strides[1], pads[1], pads[3], dilations[1], "width", where)
        return ((n, cout, ho, wo),)

    @classmethod
    def layout(cls, input_shapes: Shapes, attrs: Attrs) -> ConvLayout:
        """The kernel's buffer sizes for these (checked) shapes and attributes."""
        x, w = tuple(input_shapes[0]), tuple(input_shapes[1])
        (_, _, ho, wo), = cls.infer_shape([x, w], attrs)
        return conv_layout(x, w, *cls.geometry(attrs), (ho, wo))

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        lay = cls.layout([inputs[0].shape, inputs[1].shape], attrs)
        return (conv2d(inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None, lay),)

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        """The images split over threads; one image: BLAS's threads."""
        n = input_shapes[0][0]
        return limit if n < 2 else image_threads(n, limit)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        (n, cout, ho, wo), = cls.infer_shape(input_shapes, attrs)
        _, cin_g, kh, kw = input_shapes[1]
        outputs = n * cout * ho * wo
        return 2 * outputs * cin_g * kh * kw + (outputs if len(input_shapes) > 2 else 0)

    @classmethod
    def kernel_bytes(cls, input_shapes: Shapes, output_shapes: Shapes, dtypes: Sequence[str],
                     attrs: Attrs) -> int | None:
        extra = conv_kernel_bytes(input_shapes, attrs)
        return cls.bytes(input_shapes, output_shapes, dtypes) + extra if extra else None


__all__ = ["Conv2d", "conv_kernel_bytes", "im2col_bytes", "int_list", "pad_spatial", "window_output_size",
           "window_view"]
