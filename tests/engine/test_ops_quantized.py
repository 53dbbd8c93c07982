import numpy as np
import pytest
import scipy.sparse

from engine.ops import OPS, ShapeError, quantized_kernels
from engine.ops.quantized import (
    FakeQuantLinear, Fp16Linear, Int8Linear, Int8OutlierLinear, act_scale, exact_chunk, int_matmul,
)
from engine.quant.dense import DENSE_MODES, REL_RMS_TOLERANCE, error_bound, fake_quant_weight
from engine.quant.numeric import dequantize, quantize, quantize_weight, scale_for, to_fp16
from engine.quant.outlier import split_outliers


def rel_rms(y, ref):
    return float(np.linalg.norm(y - ref) / np.linalg.norm(ref))


@pytest.fixture
def layer():
    rng = np.random.default_rng(11)
    k, n = 512, 384
    x = rng.standard_normal((64, k), dtype=np.float32)
    w = rng.standard_normal((k, n), dtype=np.float32) * np.float32(np.sqrt(2 / k))
    b = rng.uniform(-0.1, 0.1, n).astype(np.float32)
    return x, w, b


def quantized_inputs(mode, w):
    """The weight-side inputs the real kernel for `mode` reads."""
    if mode == "fp16":
        return [to_fp16(w)]
    if mode == "int8-outlier":
        s = split_outliers(w)
        return [s.weight, s.scale, s.values, s.indices, s.indptr]
    return list(quantize_weight(w, per_channel=mode == "int8"))


KERNELS = {"fp16": Fp16Linear, "int8": Int8Linear, "int8-per-tensor": Int8Linear, "int8-outlier": Int8OutlierLinear}


def test_the_ops_are_registered():
    for cls in (Int8Linear, Int8OutlierLinear, Fp16Linear, FakeQuantLinear):
        assert OPS[cls.op_type] is cls


@pytest.mark.parametrize("unsigned", [False, True])
@pytest.mark.parametrize("k", [7, 518, 519, 1040, 1041, 3000])
def test_accumulation_is_bit_exact_int32_at_the_extremes(k, unsigned):
    """The worst case for float32 exactness: every product at its maximum
    magnitude, so every partial sum is as large as it can be."""
    rng = np.random.default_rng(k)
    hi = 255 if unsigned else 127
    lo = 0 if unsigned else -127
    xq = rng.choice([lo, hi], size=(5, k)).astype(np.float32)
    xq[0] = hi  # one row of all-max values against a column of all +127: the largest sum
    wq = rng.choice([-127, 127], size=(k, 6)).astype(np.int8)
    wq[:, 0] = 127
    ref = xq.astype(np.int64) @ wq.astype(np.int64)
    acc = int_matmul(xq, wq, hi)
    assert acc.dtype in (np.float32, np.int32)
    np.testing.assert_array_equal(acc.astype(np.int64), ref)
    assert ref[0, 0] == k * hi * 127


def test_without_chunks_a_float32_gemm_would_round():
    """The reason for the chunks: past 2^24 the plain float32 GEMM is not exact."""
    rng = np.random.default_rng(0)
    xq = rng.integers(200, 256, size=(4, 3000)).astype(np.float32)
    wq = rng.integers(100, 128, size=(3000, 8)).astype(np.int8)
    ref = xq.astype(np.int64) @ wq.astype(np.int64)
    assert ref.max() > 2 ** 24
    assert not np.array_equal((xq @ wq.astype(np.float32)).astype(np.int64), ref)
    np.testing.assert_array_equal(int_matmul(xq, wq, 255).astype(np.int64), ref)


def test_random_accumulation_matches_int64_for_both_grids():
    rng = np.random.default_rng(2)
    for hi, lo in ((127, -127), (255, 0)):
        xq = rng.integers(lo, hi + 1, size=(33, 2500)).astype(np.float32)
        wq = rng.integers(-127, 128, size=(2500, 17)).astype(np.int8)
        np.testing.assert_array_equal(int_matmul(xq, wq, hi).astype(np.int64),
                                      xq.astype(np.int64) @ wq.astype(np.int64))


def test_the_exact_chunk_is_the_float32_integer_limit():
    assert exact_chunk(127) == 1040 and exact_chunk(255) == 518
    assert exact_chunk(255) * 255 * 127 <= 2 ** 24 < (exact_chunk(255) + 1) * 255 * 127


def test_int8_linear_is_the_dequantized_int32_sum(layer):
    x, w, b = layer
    wq, sw = quantize_weight(w)
    (y,) = Int8Linear.run([x, wq, sw, b], {})
    sx = scale_for(np.abs(x).max())
    xq = quantize(x, sx).astype(np.int64)
    expected = (xq @ wq.astype(np.int64)).astype(np.float32) * (sx * sw) + b
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("mode", DENSE_MODES)
def test_each_mode_stays_within_the_documented_bound(layer, mode):
    x, w, b = layer
    (y,) = KERNELS[mode].run([x, *quantized_inputs(mode, w), b], {})
    ref = (x.astype(np.float64) @ w.astype(np.float64)) + b
    err = np.abs(y - ref)
    bound = error_bound(x, w, mode)
    assert np.all(err <= bound), f"{mode}: worst err/bound {np.max(err / bound):.3f}"
    assert rel_rms(y, ref) <= REL_RMS_TOLERANCE[mode]


def test_the_tolerance_catches_a_wrong_scale(layer):
    x, w, b = layer
    wq, sw = quantize_weight(w)
    (y,) = Int8Linear.run([x, wq, sw * np.float32(1.05), b], {})  # a 5% scale bug
    assert rel_rms(y, x.astype(np.float64) @ w + b) > REL_RMS_TOLERANCE["int8"]


def test_per_channel_beats_per_tensor_when_channels_differ_in_range(layer):
    x, w, _ = layer
    w = w * np.geomspace(0.01, 1, w.shape[1]).astype(np.float32)
    ref = x.astype(np.float64) @ w
    per_channel = Int8Linear.run([x, *quantize_weight(w)], {})[0]
    per_tensor = Int8Linear.run([x, *quantize_weight(w, per_channel=False)], {})[0]
    assert rel_rms(per_channel, ref) < 0.5 * rel_rms(per_tensor, ref)


def test_outlier_split_beats_plain_int8_on_planted_outliers(layer):
    x, w, _ = layer
    w = w.copy()
    rng = np.random.default_rng(4)
    w.flat[rng.choice(w.size, 40, replace=False)] = rng.choice([-1, 1], 40) * 3.0  # ~50 sigma
    ref = x.astype(np.float64) @ w
    outlier = Int8OutlierLinear.run([x, *quantized_inputs("int8-outlier", w)], {})[0]
    per_tensor = Int8Linear.run([x, *quantize_weight(w, per_channel=False)], {})[0]
    per_channel = Int8Linear.run([x, *quantize_weight(w)], {})[0]
    assert rel_rms(outlier, ref) < 0.5 * rel_rms(per_tensor, ref)
    assert rel_rms(outlier, ref) < rel_rms(per_channel, ref)


def test_dynamic_scale_follows_the_batch_and_static_scale_clips(layer):
    x, w, b = layer
    wq, sw = quantize_weight(w)
    amax = float(np.abs(x).max())
    dynamic = Int8Linear.run([x, wq, sw, b], {})[0]
    static_same = Int8Linear.run([x, wq, sw, b], {"act_amax": amax})[0]
    np.testing.assert_array_equal(dynamic, static_same)
    # a static range calibrated on smaller data: values beyond it clip, unlike the dynamic scale
    small = Int8Linear.run([x, wq, sw, b], {"act_amax": amax / 4})[0]
    ref = x.astype(np.float64) @ w + b
    assert rel_rms(small, ref) > 2 * rel_rms(dynamic, ref)
    clipped = np.clip(x, -amax / 4, amax / 4)
    np.testing.assert_allclose(small, Int8Linear.run([clipped, wq, sw, b], {})[0], rtol=1e-5, atol=1e-5)
    assert act_scale(x[:1], {}) != act_scale(x, {})  # dynamic: each batch its own


def test_unsigned_activations_halve_the_error_of_nonnegative_inputs(layer):
    x, w, _ = layer
    x = np.maximum(x, 0)
    wq, sw = quantize_weight(w)
    ref = x.astype(np.float64) @ w
    signed = Int8Linear.run([x, wq, sw], {})[0]
    unsigned = Int8Linear.run([x, wq, sw], {"act_unsigned": True})[0]
    assert np.all(np.abs(unsigned - ref) <= error_bound(x, w, "int8", act_unsigned=True))
    assert rel_rms(unsigned, ref) < 0.8 * rel_rms(signed, ref)


def test_unsigned_clips_negative_inputs_to_zero(layer):
    x, w, _ = layer
    wq, sw = quantize_weight(w)
    np.testing.assert_array_equal(Int8Linear.run([x, wq, sw], {"act_unsigned": True})[0],
                                  Int8Linear.run([np.maximum(x, 0), wq, sw], {"act_unsigned": True})[0])


@pytest.mark.parametrize("mode", DENSE_MODES)
@pytest.mark.parametrize("attrs", [{}, {"act_amax": 3.0}, {"activation": "Relu"}, {"activation": "Sigmoid"}])
def test_fake_quant_agrees_with_the_real_kernel(layer, mode, attrs):
    x, w, b = layer
    (real,) = KERNELS[mode].run([x, *quantized_inputs(mode, w), b], attrs)
    if mode == "fp16":
        fake_inputs, fake_attrs = [x, fake_quant_weight(w, mode), b], {**attrs, "act_bits": 0}
    elif mode == "int8-outlier":
        s = split_outliers(w)
        fake_inputs = [x, dequantize(s.weight, s.scale), b, s.outlier_matrix().toarray()]
        fake_attrs = attrs
    else:
        fake_inputs, fake_attrs = [x, fake_quant_weight(w, mode), b], attrs
    (fake,) = FakeQuantLinear.run(fake_inputs, fake_attrs)
    np.testing.assert_allclose(fake, real, rtol=1e-4, atol=1e-5)


def test_the_epilogue_applies_bias_then_activation(layer):
    x, w, b = layer
    wq, sw = quantize_weight(w)
    plain = Int8Linear.run([x, wq, sw, b], {})[0]
    np.testing.assert_array_equal(Int8Linear.run([x, wq, sw, b], {"activation": "Relu"})[0], np.maximum(plain, 0))


def test_leading_axes_are_kept(layer):
    x, w, b = layer
    wq, sw = quantize_weight(w)
    x3 = x.reshape(4, 16, -1)
    (y,) = Int8Linear.run([x3, wq, sw, b], {})
    assert y.shape == (4, 16, w.shape[1])
    assert Int8Linear.infer_shape([x3.shape, wq.shape, sw.shape, b.shape], {}) == ((4, 16, w.shape[1]),)
    np.testing.assert_array_equal(y.reshape(64, -1), Int8Linear.run([x, wq, sw, b], {})[0])


def test_shape_dtype_and_attribute_errors_name_the_problem():
    names = ("x", "w.q", "w.s", "b")
    with pytest.raises(ShapeError, match="weight_scale 'w.s' has shape \\(3,\\) but must be \\(4,\\)"):
        Int8Linear.infer_shape([(2, 5), (5, 4), (3,)], {}, names)
    with pytest.raises(ShapeError, match="weight 'w.q' has dtype float32 but Int8Linear needs int8"):
        Int8Linear.infer_dtype(["float32", "float32", "float32"], {}, names)
    with pytest.raises(ShapeError, match="act_amax must be None"):
        Int8Linear.infer_shape([(2, 5), (5, 4), (4,)], {"act_amax": -1.0})
    with pytest.raises(ShapeError, match="bias 'b' has shape \\(5,\\)"):
        Int8Linear.infer_shape([(2, 5), (5, 4), (4,), (5,)], {}, names)
    with pytest.raises(ShapeError, match="int32 accumulator overflows beyond 66311"):
        Int8Linear.infer_shape([(2, 70000), (70000, 4), (4,)], {"act_unsigned": True})
    with pytest.raises(ShapeError, match="activation is 'Swish'"):
        Fp16Linear.infer_shape([(2, 5), (5, 4)], {"activation": "Swish"})
    with pytest.raises(ShapeError, match="outlier_indptr 'p' has shape \\(3,\\) but the weight has 5 rows"):
        Int8OutlierLinear.infer_shape([(2, 5), (5, 4), (4,), (1,), (1,), (3,)], {},
                                      ("x", "w", "s", "v", "i", "p"))


def test_bad_outlier_arrays_are_refused_at_run_time(layer):
    x, w, _ = layer
    s = split_outliers(w)
    bad = s.indices.copy()
    bad[0] = w.shape[1]
    with pytest.raises(ValueError, match="outlier_indices must be column ids"):
        Int8OutlierLinear.run([x, s.weight, s.scale, s.values, bad, s.indptr], {})


def test_flops_count_the_gemm_plus_the_quantization_element_ops():
    m, k, n = 8, 16, 4
    shapes = [(m, k), (k, n), (n,), (n,)]
    assert Int8Linear.flops(shapes, {}) == 2 * m * k * n + m * n + (m * k + m * k + m * n)
    assert Int8Linear.flops(shapes, {"act_amax": 1.0}) == 2 * m * k * n + m * n + (m * k + m * n)
    assert Int8Linear.flops(shapes, {"activation": "Relu"}) == Int8Linear.flops(shapes, {}) + m * n
    outlier = [(m, k), (k, n), (n,), (5,), (5,), (k + 1,)]
    assert Int8OutlierLinear.flops(outlier, {}) == 2 * m * k * n + 2 * m * k + m * n + 2 * m * 5
    assert Fp16Linear.flops([(m, k), (k, n)], {}) == 2 * m * k * n + k * n


def test_bytes_use_the_stored_itemsizes():
    m, k, n = 8, 16, 4
    shapes, out = [(m, k), (k, n), (n,)], [(m, n)]
    int8 = Int8Linear.bytes(shapes, out, ["float32", "int8", "float32", "float32"])
    assert int8 == m * k * 4 + k * n * 1 + n * 4 + m * n * 4
    fp16 = Fp16Linear.bytes(shapes[:2], out, ["float32", "float16", "float32"])
    assert fp16 == m * k * 4 + k * n * 2 + m * n * 4


# --- Conv -------------------------------------------------------------------------------------

from engine.ops.conv import Conv2d  # noqa: E402
from engine.ops.quantized_conv import FakeQuantConv, Fp16Conv, Int8Conv, int_conv  # noqa: E402


def reference_int_conv(xq, wq, pad, group):
    """Direct loops over the output, stride 1, int64."""
    n, cin, h, w = xq.shape
    cout, cin_g, kh, kw = wq.shape
    xp = np.pad(xq.astype(np.int64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = h + 2 * pad - kh + 1, w + 2 * pad - kw + 1
    y = np.zeros((n, cout, ho, wo), np.int64)
    per_group = cout // group
    for co in range(cout):
        g = co // per_group
        for i in range(ho):
            for j in range(wo):
                patch = xp[:, g * cin_g:(g + 1) * cin_g, i:i + kh, j:j + kw]
                y[:, co, i, j] = (patch * wq[co].astype(np.int64)).sum(axis=(1, 2, 3))
    return y


@pytest.mark.parametrize("cin,group,unsigned", [(4, 1, False), (64, 1, True), (130, 2, True), (128, 1, False),
                                                (8, 4, True)])
def test_int_conv_accumulation_is_bit_exact(cin, group, unsigned):
    """Reduced axes 576 and 585 (per group) > 518 unsigned, 1152 > 1040 signed: the chunked paths run."""
    rng = np.random.default_rng(cin)
    hi = 255 if unsigned else 127
    xq = rng.choice([0 if unsigned else -127, hi], size=(2, cin, 5, 6)).astype(np.float32)
    wq = rng.choice([-127, 127], size=(6 if group == 2 else 8, cin // group, 3, 3)).astype(np.int8)
    attrs = {"strides": [2, 1], "pads": [1, 1, 1, 1], "group": group}
    acc = int_conv(xq, wq, attrs, hi)
    ref = reference_int_conv(xq, wq, 1, group)[:, :, ::2, :]  # stride 2 on rows = every other stride-1 row
    np.testing.assert_array_equal(acc.astype(np.int64), ref)


@pytest.fixture
def conv_layer():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 16, 9, 9), dtype=np.float32)
    w = rng.standard_normal((24, 16, 3, 3), dtype=np.float32) * np.float32(np.sqrt(2 / 144))
    b = rng.uniform(-0.1, 0.1, 24).astype(np.float32)
    return x, w, b, {"pads": [1, 1, 1, 1]}


def test_int8_conv_is_close_to_fp32_and_agrees_with_fake_quant(conv_layer):
    x, w, b, attrs = conv_layer
    (ref,) = Conv2d.run([x, w, b], attrs)
    wq, sw = quantize_weight(w, axis=0)
    for extra in ({}, {"activation": "Relu"}, {"act_amax": 2.0}):
        (y,) = Int8Conv.run([x, wq, sw, b], {**attrs, **extra})
        (fake,) = FakeQuantConv.run([x, dequantize(wq, sw.reshape(-1, 1, 1, 1)), b], {**attrs, **extra})
        np.testing.assert_allclose(fake, y, rtol=1e-4, atol=1e-5)
    (y,) = Int8Conv.run([x, wq, sw, b], attrs)
    assert rel_rms(y, ref) < REL_RMS_TOLERANCE["int8"]
    xr = np.maximum(x, 0)
    (yu,) = Int8Conv.run([xr, wq, sw, b], {**attrs, "act_unsigned": True, "activation": "Relu"})
    np.testing.assert_allclose(yu, np.maximum(Conv2d.run([xr, w, b], attrs)[0], 0), atol=0.05)
    (y16,) = Fp16Conv.run([x, to_fp16(w), b], attrs)
    assert rel_rms(y16, ref) < REL_RMS_TOLERANCE["fp16"]


def test_int8_conv_checks_and_counts(conv_layer):
    x, w, b, attrs = conv_layer
    shapes = [x.shape, (24, 16, 3, 3), (24,), (24,)]
    assert Int8Conv.infer_shape(shapes, attrs) == ((2, 24, 9, 9),)
    with pytest.raises(ShapeError, match="weight_scale 's' has shape \\(16,\\) but must be \\(24,\\)"):
        Int8Conv.infer_shape([x.shape, (24, 16, 3, 3), (16,)], attrs, ("x", "w", "s"))
    with pytest.raises(ShapeError, match="activation is 'Tanh'"):
        Int8Conv.infer_shape(shapes, {**attrs, "activation": "Tanh"})
    out = 2 * 24 * 9 * 9
    base = Conv2d.flops([x.shape, w.shape, b.shape], attrs)
    assert Int8Conv.flops(shapes, attrs) == base + 2 * x.size + out
    assert Int8Conv.bytes(shapes, [(2, 24, 9, 9)], ["float32", "int8", "float32", "float32", "float32"]) == \
        x.nbytes + w.size + 24 * 4 + 24 * 4 + out * 4


def test_sparse_addmm_adds_the_csr_product():
    """The outlier product, against a dense one: rows with none, one and
    several outliers, the first and last weight rows among them."""
    rng = np.random.default_rng(12)
    k, n = 40, 30
    dense = np.zeros((k, n), np.float32)
    for row, count in ((0, 1), (5, 3), (6, 1), (k - 1, 2)):
        dense[row, rng.choice(n, count, replace=False)] = rng.uniform(2, 4, count) * rng.choice([-1, 1], count)
    csr = scipy.sparse.csr_array(dense)
    x = rng.standard_normal((9, k), dtype=np.float32)
    y0 = rng.standard_normal((9, n), dtype=np.float32)
    y = y0.copy()
    quantized_kernels.sparse_addmm(y, x, csr.data.astype(np.float32), csr.indices.astype(np.int32),
                                   csr.indptr.astype(np.int32))
    np.testing.assert_allclose(y, y0 + x.astype(np.float64) @ dense, rtol=1e-6, atol=1e-6)
