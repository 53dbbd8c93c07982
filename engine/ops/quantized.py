"""Reduced-precision replacements for Linear / FusedLinear / MatMul(x, W)
(emitted by engine.quant.dense, never by a model). Each computes
activation(x @ W + b) over the last axis of x, as FusedLinear does, with W
stored at lower precision:

- Int8Linear (input, weight int8 (K, N), weight_scale float32 (N,) or (1,),
  [bias]): W = weight * weight_scale (per output channel or per tensor). x is
  quantized at run time to 8 bits with one scale for the whole tensor:
  dynamic (act_amax None: the batch's own max |x|) or static (act_amax, from
  calibration; values beyond it clip); signed (-127..127) or, with
  act_unsigned, unsigned (0..255, negatives clip to 0: only for tensors
  engine.quant.ranges calls non-negative; a static scale refuses NaN, as a
  dynamic one does). The 8-bit products are accumulated exactly as an int32
  accumulator would (engine/ops/int_gemm.py, or `int_matmul`), then
  y = float32(acc) * (x_scale * weight_scale) + bias, then the activation.
- Int8OutlierLinear (input, weight, weight_scale, outlier_values,
  outlier_indices, outlier_indptr, [bias]): Int8Linear's result plus
  x @ W_outlier, W_outlier the sparse (K, N) CSR matrix (float32 values,
  int32 indices and row pointer) of the weights beyond the int8 clip range
  (engine.quant.outlier), multiplied with the unquantized fp32 x.
- Fp16Linear (input, weight float16 (K, N), [bias]): half the weight bytes;
  the weight is upcast to float32 on each call (numeric.fp16_to_fp32, exact)
  for an fp32 GEMM.
- FakeQuantLinear (input, weight float32, [bias]): the accuracy-evaluation
  twin of the above. The weight is already rounded to its quantized grid and
  stored dequantized in fp32; x is fake-quantized (quantize then dequantize)
  with the same scale rule as Int8Linear when act_bits is 8, untouched when
  act_bits is 0 (fp16); an optional exact_weight (dense W_outlier) meets
  the unquantized x. Agrees with the real kernels up to fp32 rounding.

Kernel choice: Int8Linear's int32 accumulation runs on onnxruntime's MLAS
integer GEMM (engine/ops/int_gemm.py: u8 x s8, the activation operand kept
where no int16 pair can saturate, the rest added back in int32), which
measured 2.1x the fp32 sgemm's speed at the MLP shapes; x is quantized, and
the accumulator dequantized with bias and Relu, in compiled passes (numba).
Without numba, and for Int8Conv (engine/ops/quantized_conv.py), it runs as
float32 BLAS GEMMs over K-chunks short enough to be exact (`exact_chunk`,
`int_matmul`): as fast as the fp32 GEMM at best, so there int8 saves weight
memory (1 byte per weight), not time.

Attributes: activation (None, Relu, Gelu, Sigmoid, Tanh) and approximate as
FusedLinear's; act_amax (None or a float > 0) and act_unsigned (bool) on the
8-bit ops; act_bits (0 or 8) on FakeQuantLinear.

FLOPs: the fp32 op's (2*M*K*N, + M*N for a bias, + the activation's), plus
the element ops quantization adds, one per element: finding a dynamic
scale (max |x|: M*K), quantizing x (a multiply: M*K), dequantizing the
accumulator (a multiply: M*N); Int8OutlierLinear adds 2*M*nnz for the sparse
product, Fp16Linear K*N for the upcast, FakeQuantLinear 2*M*K for quantize
and dequantize of x (+ M*K for a dynamic scale, + 2*M*K*N for an
exact_weight). Bytes: the default minimum
traffic at the stored itemsizes (int8 weight: 1 byte per element, fp16: 2,
plus the scales and the CSR arrays), so an int8 layer's bytes show the
saving; kernel_bytes adds what the kernels move beyond it (`int_gemm_bytes`
on the integer GEMM's path). The integer GEMM's residual products (int_gemm:
N multiply-adds per activation past half its range, data-dependent) are not
in FLOPs.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse

from engine.ops import int_gemm, quantized_kernels
from engine.ops.base import Op, Shape, ShapeError, fmt_shape, numel
from engine.ops.elementwise import Gelu
from engine.ops.fused import ACTIVATIONS, _activate_in_place
from engine.ops.linear import Linear
from engine.ops.parallel import threads_allowed
from engine.quant.numeric import amax_per_tensor, fp16_to_fp32, qrange, quantize, scale_for

# |q_w| <= 127 always (symmetric weights); |q_x| <= 127 signed, <= 255 unsigned.
W_QMAX = 127
FP32_EXACT = 1 << 24  # every integer of magnitude <= 2^24 is a float32
INT32_MAX = (1 << 31) - 1


def exact_chunk(x_qmax: int, w_qmax: int = W_QMAX) -> int:
    """Largest K for which a float32 GEMM of integer operands is exact.

    Proof: with |a_ik| <= x_qmax and |b_kj| <= w_qmax, each product is an
    integer of magnitude <= x_qmax*w_qmax, and every partial sum of up to K
    of them, in ANY order or blocking a BLAS may choose, is an integer of
    magnitude <= K*x_qmax*w_qmax. If that is <= 2^24, every intermediate
    (product, sum, or fused multiply-add) is an integer float32 represents
    exactly, so no operation rounds and the float32 result IS the integer
    sum. The chunk is 2^24 // (127*127) = 1040 for a signed x and
    2^24 // (255*127) = 518 for an unsigned one.
    """
    return FP32_EXACT // (x_qmax * w_qmax)


def int_matmul(xq: np.ndarray, wq: np.ndarray, x_qmax: int) -> np.ndarray:
    """acc = xq @ wq with int32 accumulation semantics, returned as float32
    when it fits one exact chunk (K <= exact_chunk) and int32 otherwise.

    xq (M, K) holds integers in float32 (|xq| <= x_qmax), wq (K, N) int8.
    K is split into chunks of exact_chunk(x_qmax): each chunk is one float32
    BLAS GEMM, exact by the proof above, converted to int32 (exact: it is an
    integer below 2^24) and summed in int32. Callers guarantee
    K * x_qmax * 127 <= INT32_MAX, so the int32 sum never wraps: this is
    bit for bit what an int8 kernel with an int32 accumulator computes.
    """
    k = xq.shape[-1]
    chunk = exact_chunk(x_qmax)
    wf = wq.astype(np.float32)
    if k <= chunk:
        return np.matmul(xq, wf)
    acc = np.matmul(xq[:, :chunk], wf[:chunk]).astype(np.int32)
    for k0 in range(chunk, k, chunk):
        acc += np.matmul(xq[:, k0:k0 + chunk], wf[k0:k0 + chunk]).astype(np.int32)
    return acc


def float_temp_bytes(shape: Shape) -> int:
    """A float32 temporary of `shape`, written once and read once (Op.kernel_bytes)."""
    return 2 * 4 * numel(tuple(shape))


def int_gemm_bytes(x: Shape, n: int) -> int:
    """The integer GEMM's traffic beyond the minimum (engine/ops/int_gemm.py):
    one more read of x (its max: a dynamic scale, or a static one's NaN
    check), its A and R (a byte per element each) written and read, and the
    int32 accumulator written and read before y goes over it."""
    mk = numel(tuple(x))
    return 4 * mk + 2 * 2 * mk + 2 * 4 * (mk // x[-1] if x[-1] else 0) * n


def act_quant_bytes(x: Shape, attrs: Mapping[str, Any], temps: int) -> int:
    """Quantizing x: `temps` float32 temporaries of its shape, and one more read
    of x for a dynamic scale (its amax)."""
    return temps * float_temp_bytes(x) + (4 * numel(tuple(x)) if attrs.get("act_amax") is None else 0)


def fake_quant_bytes(x: Shape, attrs: Mapping[str, Any]) -> int:
    """fake_quantize_input's: two temporaries (quantized, dequantized), or none with act_bits 0."""
    return act_quant_bytes(x, attrs, 2) if attrs.get("act_bits", 8) else 0


def _check_activation(attrs: Mapping[str, Any]) -> None:
    act = attrs.get("activation")
    if act is not None and act not in ACTIVATIONS:
        raise ShapeError(f"attribute activation is {act!r}; expected None or one of {', '.join(map(repr, ACTIVATIONS))}")
    if act == "Gelu":
        Gelu.infer_shape([(1,)], {"approximate": attrs.get("approximate", "none")})


# The attributes of activation quantization, with their defaults; act_bits
# only on the FakeQuant ops.
ACT_QUANT_DEFAULTS = {"act_amax": None, "act_unsigned": False}
FAKE_QUANT_DEFAULTS = {"act_bits": 8, **ACT_QUANT_DEFAULTS}


def _check_act_quant(attrs: Mapping[str, Any]) -> None:
    amax = attrs.get("act_amax")
    if amax is not None:
        ok = isinstance(amax, (int, float, np.floating, np.integer)) and not isinstance(amax, bool)
        if not ok or not math.isfinite(float(amax)) or float(amax) <= 0:
            raise ShapeError(f"attribute act_amax must be None (dynamic) or a finite number > 0, got {amax!r}")
    if not isinstance(attrs.get("act_unsigned", False), (bool, np.bool_)):
        raise ShapeError(f"attribute act_unsigned must be true or false, got {attrs.get('act_unsigned')!r}")


def _check_fake_quant(attrs: Mapping[str, Any]) -> None:
    _check_act_quant(attrs)
    if attrs.get("act_bits", 8) not in (0, 8):
        raise ShapeError(f"attribute act_bits must be 8 (quantize x) or 0 (leave x in fp32), got {attrs.get('act_bits')!r}")


def act_scale(x: np.ndarray, attrs: Mapping[str, Any]) -> np.ndarray:
    """The activation scale: static from act_amax, or dynamic from this batch."""
    unsigned = bool(attrs.get("act_unsigned", False))
    amax = attrs.get("act_amax")
    if amax is None:
        amax = max(float(np.max(x)), 0.0) if unsigned and x.size else amax_per_tensor(x)
    return scale_for(amax, unsigned=unsigned)


def act_quant_flops(x_elems: int, attrs: Mapping[str, Any]) -> int:
    """Quantizing x: a multiply per element, plus a max per element for a dynamic scale."""
    return x_elems + (x_elems if attrs.get("act_amax") is None else 0)


def fake_quantize_input(x: np.ndarray, attrs: Mapping[str, Any]) -> np.ndarray:
    """x quantized and dequantized with its act_scale (act_bits 8), or x itself (act_bits 0)."""
    if not attrs.get("act_bits", 8):
        return x
    unsigned = bool(attrs.get("act_unsigned", False))
    sx = act_scale(x, attrs)
    return np.multiply(quantize(x, sx, unsigned=unsigned, out_dtype=np.float32), sx, dtype=np.float32)


def fake_quant_flops(x_elems: int, attrs: Mapping[str, Any]) -> int:
    """fake_quantize_input's: quantize (act_quant_flops) and dequantize (a multiply per element)."""
    return act_quant_flops(x_elems, attrs) + x_elems if attrs.get("act_bits", 8) else 0


def _epilogue(y: np.ndarray, bias: np.ndarray | None, attrs: Mapping[str, Any]) -> np.ndarray:
    if bias is not None:
        np.add(y, bias, out=y)
    act = attrs.get("activation")
    return y if act is None else _activate_in_place(y, act, attrs)


def _epilogue_flops(out: Shape, has_bias: bool, attrs: Mapping[str, Any]) -> int:
    flops = numel(out) if has_bias else 0
    act = attrs.get("activation")
    if act is not None:
        cls = ACTIVATIONS[act]
        flops += cls.flops([out], {"approximate": attrs.get("approximate", "none")} if cls is Gelu else {})
    return flops


def _check_weight_scale(cls: type[Op], input_shapes: Sequence[Shape], channels: int,
                        names: Sequence[str] | None) -> None:
    """weight_scale (input 2) is per output channel or per tensor."""
    scale = tuple(input_shapes[2])
    if scale not in ((channels,), (1,)):
        raise ShapeError(
            f"{cls.label(2, names)} has shape {fmt_shape(scale)} but must be ({channels},) per output "
            f"channel or (1,) per tensor"
        )


# Op.dtype_error of the reduced-precision ops
NEEDS_DTYPE = "{input} has dtype {dtype} but {op} needs {allowed}"


def _linear_shape(cls: type[Op], input_shapes: Sequence[Shape], bias_index: int,
                  names: Sequence[str] | None) -> Shape:
    """Linear's output shape, with the bias (if given) at input `bias_index`."""
    x, w = tuple(input_shapes[0]), tuple(input_shapes[1])
    (out,) = Linear.infer_shape([x, w], {}, None if names is None else names[:2])
    cls.check_input_shape(bias_index, input_shapes, (w[1],), f"{cls.label(1, names)} has out_features {w[1]}", names)
    return out


class Int8Linear(Op):
    """int8 weights x 8-bit activations, exact int32 accumulation; see the module docstring."""

    op_type = "Int8Linear"
    multithreaded = True  # BLAS
    input_roles = ("input", "weight", "weight_scale", "bias")
    min_inputs = 3
    attr_defaults = {"activation": None, "approximate": "none", **ACT_QUANT_DEFAULTS}
    bias_index = 3
    input_dtypes = ("float32", "int8", "float32", "float32")
    dtype_error = NEEDS_DTYPE

    @classmethod
    def infer_shape(cls, input_shapes, attrs, names=None):
        _check_activation(attrs)
        _check_act_quant(attrs)
        w = tuple(input_shapes[1])
        out = _linear_shape(cls, input_shapes, cls.bias_index, names)
        _check_weight_scale(cls, input_shapes, w[1], names)
        x_qmax = qrange(8, bool(attrs.get("act_unsigned", False)))[1]
        if w[0] * x_qmax * W_QMAX > INT32_MAX:
            raise ShapeError(
                f"{cls.label(1, names)} has in_features {w[0]}; an int32 accumulator overflows beyond "
                f"{INT32_MAX // (x_qmax * W_QMAX)} for {'unsigned' if x_qmax == 255 else 'signed'} activations"
            )
        return (out,)

    @classmethod
    def int8_gemm(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any], bias: np.ndarray | None = None,
                  relu: bool = False) -> np.ndarray:
        """float32 acc * (x_scale * weight_scale), shape (..., N), then `bias`
        and Relu where asked (the integer GEMM's path does them in its last pass)."""
        x, wq, w_scale = inputs[0], inputs[1], inputs[2]
        unsigned = bool(attrs.get("act_unsigned", False))
        sx = act_scale(x, attrs)
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        lo, hi = qrange(8, unsigned)
        if int_gemm.AVAILABLE and x2.size:
            if attrs.get("act_amax") is not None and np.isnan(np.max(x2)):  # a dynamic scale refuses NaN already
                raise ValueError(f"{cls.op_type}: the input holds NaN, which has no 8-bit value")
            y, _ = int_gemm.int8_matmul(np.ascontiguousarray(x2), np.float32(1) / sx, lo, hi, unsigned, wq, sx,
                                        w_scale, bias, relu, threads_allowed())
        else:
            xq = quantize(x2, sx, unsigned=unsigned, out_dtype=np.float32)
            acc = int_matmul(xq, wq, hi)
            y = acc if acc.dtype == np.float32 else acc.astype(np.float32)
            np.multiply(y, sx * w_scale, out=y)
            y = _epilogue(y, bias, {"activation": "Relu" if relu else None})
        return y.reshape(*x.shape[:-1], wq.shape[1])

    @classmethod
    def run(cls, inputs, attrs):
        bias = inputs[cls.bias_index] if len(inputs) > cls.bias_index else None
        if attrs.get("activation") in (None, "Relu"):
            return (cls.int8_gemm(inputs, attrs, bias, attrs.get("activation") == "Relu"),)
        return (_epilogue(cls.int8_gemm(inputs, attrs), bias, attrs),)

    @classmethod
    def quant_flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        x, (k, n) = input_shapes[0], input_shapes[1]
        m = numel(tuple(x)[:-1])
        return act_quant_flops(m * k, attrs) + m * n

    @classmethod
    def flops(cls, input_shapes, attrs):
        x, (k, n) = tuple(input_shapes[0]), input_shapes[1]
        out = x[:-1] + (n,)
        return (2 * numel(x[:-1]) * k * n + cls.quant_flops(input_shapes, attrs)
                + _epilogue_flops(out, len(input_shapes) > cls.bias_index, attrs))

    @classmethod
    def kernel_bytes(cls, input_shapes, output_shapes, dtypes, attrs):
        """The integer GEMM's buffers (int_gemm_bytes); without numba, the
        quantized x and the weights converted to float32 on every call (for BLAS)."""
        x, w = tuple(input_shapes[0]), tuple(input_shapes[1])
        if int_gemm.AVAILABLE:
            return cls.bytes(input_shapes, output_shapes, dtypes) + int_gemm_bytes(x, w[1])
        return cls.bytes(input_shapes, output_shapes, dtypes) + act_quant_bytes(x, attrs, 1) + float_temp_bytes(w)


def check_outliers(values: np.ndarray, indices: np.ndarray, indptr: np.ndarray, n: int) -> None:
    """The CSR arrays of a (K, N) W_outlier must be consistent (scipy would not check column ids)."""
    if indptr[0] != 0 or indptr[-1] != values.size or np.any(np.diff(indptr) < 0):
        raise ValueError(f"outlier_indptr must rise from 0 to the {values.size} outlier values")
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"outlier_indices must be column ids in 0..{n - 1}")


def outlier_matrix(values: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]):
    """W_outlier as a scipy CSR (K, N) matrix, its arrays checked."""
    check_outliers(values, indices, indptr, shape[1])
    return scipy.sparse.csr_array((values, indices, indptr), shape=shape)


class Int8OutlierLinear(Int8Linear):
    """Int8Linear + x @ W_outlier (sparse CSR fp32); see the module docstring."""

    op_type = "Int8OutlierLinear"
    input_roles = ("input", "weight", "weight_scale", "outlier_values", "outlier_indices", "outlier_indptr", "bias")
    min_inputs = 6
    bias_index = 6
    input_dtypes = ("float32", "int8", "float32", "float32", "int32", "int32", "float32")

    @classmethod
    def infer_shape(cls, input_shapes, attrs, names=None):
        (out,) = super().infer_shape(input_shapes, attrs, names)
        k = input_shapes[1][0]
        values, indices = tuple(input_shapes[3]), tuple(input_shapes[4])
        if len(values) != 1 or indices != values:
            raise ShapeError(
                f"{cls.label(3, names)} and {cls.label(4, names)} must be 1-D of one length, got "
                f"{fmt_shape(values)} and {fmt_shape(indices)}"
            )
        cls.check_input_shape(5, input_shapes, (k + 1,), f"the weight has {k} rows", names)
        return (out,)

    @classmethod
    def run(cls, inputs, attrs):
        x, wq = inputs[0], inputs[1]
        y = cls.int8_gemm(inputs, attrs)
        check_outliers(inputs[3], inputs[4], inputs[5], wq.shape[1])
        quantized_kernels.sparse_addmm(y.reshape(-1, wq.shape[1]), x.reshape(-1, x.shape[-1]), *inputs[3:6])
        bias = inputs[cls.bias_index] if len(inputs) > cls.bias_index else None
        return (_epilogue(y, bias, attrs),)

    @classmethod
    def flops(cls, input_shapes, attrs):
        m = numel(tuple(input_shapes[0])[:-1])
        return super().flops(input_shapes, attrs) + 2 * m * numel(tuple(input_shapes[3]))


class Fp16Linear(Op):
    """fp16-stored weights, fp32 compute; see the module docstring."""

    op_type = "Fp16Linear"
    multithreaded = True  # BLAS
    input_roles = ("input", "weight", "bias")
    min_inputs = 2
    attr_defaults = {"activation": None, "approximate": "none"}
    input_dtypes = ("float32", "float16", "float32")
    dtype_error = NEEDS_DTYPE

    @classmethod
    def infer_shape(cls, input_shapes, attrs, names=None):
        _check_activation(attrs)
        return (_linear_shape(cls, input_shapes, 2, names),)

    @classmethod
    def run(cls, inputs, attrs):
        y = np.matmul(inputs[0], fp16_to_fp32(inputs[1]))
        return (_epilogue(y, inputs[2] if len(inputs) > 2 else None, attrs),)

    @classmethod
    def flops(cls, input_shapes, attrs):
        x, (k, n) = tuple(input_shapes[0]), input_shapes[1]
        return 2 * numel(x[:-1]) * k * n + k * n + _epilogue_flops(x[:-1] + (n,), len(input_shapes) > 2, attrs)

    @classmethod
    def kernel_bytes(cls, input_shapes, output_shapes, dtypes, attrs):
        """The weights converted to float32 on every call (for BLAS)."""
        return cls.bytes(input_shapes, output_shapes, dtypes) + float_temp_bytes(input_shapes[1])


class FakeQuantLinear(Op):
    """fp32 on fake-quantized weights (stored so) and activations; see the
    module docstring. The optional fourth input, exact_weight (K, N) fp32,
    multiplies the unquantized x and is added (the dense twin of
    Int8OutlierLinear's W_outlier; a bias must then be given, zeros if none)."""

    op_type = "FakeQuantLinear"
    multithreaded = True  # BLAS
    input_roles = ("input", "weight", "bias", "exact_weight")
    min_inputs = 2
    attr_defaults = {"activation": None, "approximate": "none", **FAKE_QUANT_DEFAULTS}

    @classmethod
    def infer_shape(cls, input_shapes, attrs, names=None):
        _check_activation(attrs)
        _check_fake_quant(attrs)
        if len(input_shapes) > 3 and tuple(input_shapes[3]) != tuple(input_shapes[1]):
            raise ShapeError(
                f"{cls.label(3, names)} has shape {fmt_shape(tuple(input_shapes[3]))} but must match "
                f"{cls.label(1, names)}'s {fmt_shape(tuple(input_shapes[1]))}"
            )
        return (_linear_shape(cls, input_shapes, 2, names),)

    @classmethod
    def run(cls, inputs, attrs):
        y = np.matmul(fake_quantize_input(inputs[0], attrs), inputs[1])
        if len(inputs) > 3:
            y += np.matmul(inputs[0], inputs[3])
        return (_epilogue(y, inputs[2] if len(inputs) > 2 else None, attrs),)

    @classmethod
    def flops(cls, input_shapes, attrs):
        x, (k, n) = tuple(input_shapes[0]), input_shapes[1]
        m = numel(x[:-1])
        extra = 2 * m * k * n if len(input_shapes) > 3 else 0
        return (2 * m * k * n + extra + fake_quant_flops(m * k, attrs)
                + _epilogue_flops(x[:-1] + (n,), len(input_shapes) > 2, attrs))

    @classmethod
    def kernel_bytes(cls, input_shapes, output_shapes, dtypes, attrs):
        """x quantized then dequantized (two float32 temporaries), and the outlier
        product (a temporary added into y)."""
        return (cls.bytes(input_shapes, output_shapes, dtypes) + fake_quant_bytes(input_shapes[0], attrs)
                + (float_temp_bytes(output_shapes[0]) if len(input_shapes) > 3 else 0))


__all__ = ["FP32_EXACT", "FakeQuantLinear", "Fp16Linear", "Int8Linear", "Int8OutlierLinear",
           "act_quant_bytes", "act_quant_flops", "act_scale", "check_outliers", "exact_chunk", "fake_quant_bytes",
           "fake_quant_flops", "fake_quantize_input", "float_temp_bytes", "int_gemm_bytes", "int_matmul",
           "outlier_matrix"]
