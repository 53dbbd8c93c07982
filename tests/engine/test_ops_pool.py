import numpy as np
import pytest

from engine.ops import OPS, ShapeError, chunked, pool
from engine.ops.pool import AveragePool, GlobalAveragePool, MaxPool
from tests.engine.ort_single_node import run_onnx_node
from tests.engine.thread_splits import two_threads


def reference_pool(x, kind, kernel, strides=(1, 1), pads=(0, 0, 0, 0), count_include_pad=0):
    """Explicit loops; taps in the padding are skipped (max) or counted as
    zeros only when count_include_pad is 1 (average)."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (top, left, bottom, right) = kernel, strides, pads
    ho = (h + top + bottom - kh) // sh + 1
    wo = (w + left + right - kw) // sw + 1
    y = np.zeros((n, c, ho, wo))
    for b in range(n):
        for ch in range(c):
            for oy in range(ho):
                for ox in range(wo):
                    taps = [float(x[b, ch, iy, ix])
                            for iy in range(oy * sh - top, oy * sh - top + kh)
                            for ix in range(ox * sw - left, ox * sw - left + kw)
                            if 0 <= iy < h and 0 <= ix < w]
                    if kind == "max":
                        y[b, ch, oy, ox] = max(taps)
                    else:
                        y[b, ch, oy, ox] = sum(taps) / (kh * kw if count_include_pad else len(taps))
    return y


@pytest.fixture
def x():
    return np.random.default_rng(5).standard_normal((2, 3, 7, 8), dtype=np.float32)


WINDOWS = [
    pytest.param({"kernel_shape": [2, 2], "strides": [2, 2]}, id="2x2-stride-2"),
    pytest.param({"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, id="3x3-stride-2-pad-1"),
    pytest.param({"kernel_shape": [3, 2], "pads": [0, 1, 2, 0]}, id="asymmetric"),
]


def _ref_kwargs(attrs):
    return {"kernel": tuple(attrs["kernel_shape"]), "strides": tuple(attrs.get("strides", (1, 1))),
            "pads": tuple(attrs.get("pads", (0, 0, 0, 0)))}


def test_they_are_registered_under_the_onnx_names():
    assert (OPS["MaxPool"], OPS["AveragePool"], OPS["GlobalAveragePool"]) == (MaxPool, AveragePool, GlobalAveragePool)


@pytest.mark.parametrize("attrs", WINDOWS)
def test_max_pool_matches_the_loop_reference_and_onnxruntime(x, attrs):
    (y,) = MaxPool.run([x], attrs)
    assert y.shape == MaxPool.infer_shape([x.shape], attrs)[0]
    np.testing.assert_array_equal(y, reference_pool(x, "max", **_ref_kwargs(attrs)).astype(np.float32))
    np.testing.assert_allclose(y, run_onnx_node("MaxPool", {"x": x}, attrs), rtol=1e-4)


def test_max_pool_never_picks_the_padding():
    x = -np.ones((1, 1, 3, 3), dtype=np.float32)  # padding with 0 would win
    (y,) = MaxPool.run([x], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    np.testing.assert_array_equal(y, -np.ones((1, 1, 3, 3), dtype=np.float32))


@pytest.mark.parametrize("count_include_pad", [0, 1])
@pytest.mark.parametrize("attrs", WINDOWS)
def test_average_pool_matches_the_loop_reference_and_onnxruntime(x, attrs, count_include_pad):
    attrs = {**attrs, "count_include_pad": count_include_pad}
    (y,) = AveragePool.run([x], attrs)
    expected = reference_pool(x, "avg", count_include_pad=count_include_pad, **_ref_kwargs(attrs))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y, run_onnx_node("AveragePool", {"x": x}, attrs), rtol=1e-4, atol=1e-6)


def test_average_pool_excludes_padding_from_the_count_by_default():
    x = np.ones((1, 1, 4, 4), dtype=np.float32)
    (y,) = AveragePool.run([x], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    np.testing.assert_allclose(y, np.ones((1, 1, 4, 4)), rtol=1e-6)


def test_global_average_pool_matches_a_plain_mean_and_onnxruntime(x):
    (y,) = GlobalAveragePool.run([x], {})
    assert y.shape == (2, 3, 1, 1) == GlobalAveragePool.infer_shape([x.shape], {})[0]
    np.testing.assert_allclose(y[:, :, 0, 0], x.astype(np.float64).mean(axis=(2, 3)), rtol=1e-5)
    np.testing.assert_allclose(y, run_onnx_node("GlobalAveragePool", {"x": x}), rtol=1e-4)


def test_pools_leave_their_input_untouched(x):
    before = x.copy()
    MaxPool.run([x], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    AveragePool.run([x], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    GlobalAveragePool.run([x], {})
    np.testing.assert_array_equal(x, before)


def test_flops_and_bytes():
    shape, attrs = (32, 64, 64, 64), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    (out,) = MaxPool.infer_shape([shape], attrs)
    assert out == (32, 64, 32, 32)
    assert MaxPool.flops([shape], attrs) == 32 * 64 * 32 * 32 * 8  # kH*kW - 1 compares per output
    assert AveragePool.flops([shape], attrs) == 32 * 64 * 32 * 32 * 9  # 8 adds and a divide
    assert GlobalAveragePool.flops([shape], {}) == 32 * 64 * 64 * 64
    assert MaxPool.bytes([shape], [out], ["float32", "float32"]) == 4 * (32 * 64 * 64 * 64 + 32 * 64 * 32 * 32)


@pytest.mark.parametrize(
    ("op", "shape", "attrs", "message"),
    [
        (MaxPool, (1, 3, 8, 8), {}, "attribute kernel_shape is required by MaxPool"),
        (MaxPool, (3, 8, 8), {"kernel_shape": [2, 2]}, r"input 'h' has shape \(3, 8, 8\) but must be 4-D"),
        (AveragePool, (1, 3, 8, 8), {"kernel_shape": [2, 2], "pads": [2, 0, 0, 0]},
         "padding on the height axis must be smaller than the kernel span 2"),
        (MaxPool, (1, 3, 2, 8), {"kernel_shape": [3, 3]},
         r"input 'h' of shape \(1, 3, 2, 8\): the height axis is 2 \(\+0\+0 padding\) but the kernel spans 3"),
        (GlobalAveragePool, (4, 8), {}, r"input 'h' has shape \(4, 8\) but must have N, C and at least one"),
    ],
)
def test_bad_shapes_and_attributes_are_explained(op, shape, attrs, message):
    with pytest.raises(ShapeError, match=message):
        op.infer_shape([shape], attrs, names=("h",))


def test_average_pool_refuses_unknown_attributes():
    with pytest.raises(ShapeError, match="unknown attribute.*ceil_mode"):
        AveragePool.resolve_attrs({"kernel_shape": [2, 2], "ceil_mode": 1})


# --- chunks of planes over the engine's threads --------------------------------------------------------

@pytest.mark.parametrize("planes_per_chunk", [1, 2, 5])
@pytest.mark.parametrize("attrs", WINDOWS)
def test_chunks_of_planes_and_the_last_short_chunk_give_the_same_result(monkeypatch, x, attrs, planes_per_chunk):
    top, left, bottom, right = attrs.get("pads", (0, 0, 0, 0))
    monkeypatch.setattr(pool, "CHUNK_BYTES", planes_per_chunk * 4 * (7 + top + bottom) * (8 + left + right))
    (y,) = MaxPool.run([x], attrs)
    np.testing.assert_array_equal(y, reference_pool(x, "max", **_ref_kwargs(attrs)).astype(np.float32))
    (y,) = AveragePool.run([x], attrs)
    np.testing.assert_allclose(y, reference_pool(x, "avg", **_ref_kwargs(attrs)), rtol=1e-5, atol=1e-6)


def test_dilated_windows_match_onnxruntime(x):
    attrs = {"kernel_shape": [2, 3], "dilations": [2, 2], "pads": [1, 2, 0, 1], "strides": [1, 2]}
    (y,) = MaxPool.run([x], attrs)
    np.testing.assert_allclose(y, run_onnx_node("MaxPool", {"x": x}, attrs), rtol=1e-6)


def test_max_pool_propagates_nan_as_np_maximum():
    x = np.zeros((1, 1, 4, 4), dtype=np.float32)
    x[0, 0, 1, 1] = np.nan
    (y,) = MaxPool.run([x], {"kernel_shape": [2, 2], "strides": [2, 2]})
    assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 0, 1:, :]).any() and not np.isnan(y[0, 0, 0, 1])


def test_planes_split_over_two_threads_give_one_thread_s_result(monkeypatch):
    big = np.random.default_rng(6).standard_normal((2, 9, 128, 230), dtype=np.float32)  # 530k elements
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    splits = []
    monkeypatch.setattr(pool, "run_chunks", lambda chunk, scratch, n, size, threads: splits.append(
        (n, size, threads)) or chunked.run_chunks(chunk, scratch, n, size, threads))
    with two_threads():
        (y,) = MaxPool.run([big], attrs)
        assert MaxPool.threads([big.shape], attrs, 2) == 2
    assert splits == [(18, 8, 2)]  # 8 padded 130x232 planes fit in CHUNK_BYTES (of the 9 that halve the 18)
    np.testing.assert_array_equal(y, reference_pool(big, "max", **_ref_kwargs(attrs)).astype(np.float32))


def test_small_pools_stay_on_one_thread():
    assert MaxPool.threads([(2, 3, 7, 8)], {"kernel_shape": [2, 2]}, 2) == 1
    assert AveragePool.threads([(64, 32, 64, 64)], {"kernel_shape": [2, 2]}, 1) == 1
