import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from engine.ops import OPS, ShapeError, chunked, conv_kernels, parallel
from engine.ops.conv import Conv2d
from tests.engine.ort_single_node import run_onnx_node
from tests.engine.thread_splits import two_threads


def reference_conv(x, w, b=None, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1):
    """Explicit loops over every output cell and kernel tap, in float64;
    padding is handled by skipping taps outside the input."""
    n, cin, h, wd = x.shape
    cout, cin_g, kh, kw = w.shape
    (sh, sw), (top, left, bottom, right), (dh, dw) = strides, pads, dilations
    ho = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + left + right - dw * (kw - 1) - 1) // sw + 1
    cout_g = cout // group
    y = np.zeros((n, cout, ho, wo))
    for b_ in range(n):
        for co in range(cout):
            g = co // cout_g
            channels = slice(g * cin_g, (g + 1) * cin_g)
            for oy in range(ho):
                for ox in range(wo):
                    acc = 0.0 if b is None else float(b[co])
                    for i in range(kh):
                        iy = oy * sh + i * dh - top
                        if not 0 <= iy < h:
                            continue
                        for j in range(kw):
                            ix = ox * sw + j * dw - left
                            if 0 <= ix < wd:
                                acc += float(np.dot(x[b_, channels, iy, ix].astype(np.float64),
                                                    w[co, :, i, j].astype(np.float64)))
                    y[b_, co, oy, ox] = acc
    return y


def operands(n=2, cin=4, h=7, w=6, cout=6, k=(3, 3), group=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, h, w), dtype=np.float32)
    weight = rng.standard_normal((cout, cin // group, *k), dtype=np.float32)
    bias = rng.standard_normal(cout, dtype=np.float32)
    return x, weight, bias


CASES = [
    pytest.param({}, {}, id="plain"),
    pytest.param({"pads": [1, 1, 1, 1]}, {"pads": (1, 1, 1, 1)}, id="same-padding"),
    pytest.param({"strides": [2, 2], "pads": [1, 1, 1, 1]}, {"strides": (2, 2), "pads": (1, 1, 1, 1)},
                 id="stride-2"),
    pytest.param({"strides": [2, 1], "pads": [0, 2, 1, 0]}, {"strides": (2, 1), "pads": (0, 2, 1, 0)},
                 id="asymmetric"),
    pytest.param({"dilations": [2, 1], "pads": [2, 1, 2, 1]}, {"dilations": (2, 1), "pads": (2, 1, 2, 1)},
                 id="dilated"),
    pytest.param({"group": 2}, {"group": 2}, id="grouped"),
]


def test_it_is_registered_under_the_onnx_name():
    assert OPS["Conv"] is Conv2d


@pytest.mark.parametrize(("attrs", "ref_kwargs"), CASES)
def test_it_matches_the_loop_reference(attrs, ref_kwargs):
    x, w, b = operands(group=attrs.get("group", 1))
    (y,) = Conv2d.run([x, w, b], attrs)
    expected = reference_conv(x, w, b, **ref_kwargs)
    assert y.dtype == np.float32
    assert y.shape == expected.shape == Conv2d.infer_shape([x.shape, w.shape, b.shape], attrs)[0]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_a_depthwise_conv_without_bias_matches_the_loop_reference():
    x, w, _ = operands(cin=4, cout=4, group=4)
    attrs = {"group": 4, "pads": [1, 1, 1, 1]}
    (y,) = Conv2d.run([x, w], attrs)
    np.testing.assert_allclose(y, reference_conv(x, w, group=4, pads=(1, 1, 1, 1)), rtol=1e-5, atol=1e-5)


def test_a_1x1_stride_2_projection_matches_the_loop_reference():
    x, w, _ = operands(k=(1, 1))
    (y,) = Conv2d.run([x, w], {"strides": [2, 2]})
    np.testing.assert_allclose(y, reference_conv(x, w, strides=(2, 2)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("attrs", "ref_kwargs"), CASES)
def test_it_matches_onnxruntime(attrs, ref_kwargs):
    x, w, b = operands(group=attrs.get("group", 1), seed=1)
    (y,) = Conv2d.run([x, w, b], attrs)
    expected = run_onnx_node("Conv", {"x": x}, attrs, initializers={"w": w, "b": b})
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


def test_it_does_not_modify_its_inputs():
    x, w, b = operands()
    copies = [a.copy() for a in (x, w, b)]
    Conv2d.run([x, w, b], {"pads": [1, 1, 1, 1]})
    for before, after in zip(copies, (x, w, b)):
        np.testing.assert_array_equal(before, after)


def test_flops_count_multiply_adds_as_two_plus_one_per_bias_add():
    # ResNet-style 3x3 conv: N=32, 64 -> 64 channels, 32x32 with padding 1
    shapes = [(32, 64, 32, 32), (64, 64, 3, 3), (64,)]
    attrs = {"pads": [1, 1, 1, 1]}
    outputs = 32 * 64 * 32 * 32
    assert Conv2d.flops(shapes, attrs) == 2 * outputs * 64 * 9 + outputs
    assert Conv2d.flops(shapes[:2], attrs) == 2 * outputs * 64 * 9
    # grouped: each output reads Cin/group channels; stride 2 quarters the outputs
    grouped = [(1, 8, 10, 10), (16, 2, 3, 3)]
    assert Conv2d.flops(grouped, {"group": 4, "strides": [2, 2]}) == 2 * (16 * 4 * 4) * 2 * 9


def test_bytes_are_input_weight_bias_and_output_not_the_im2col_buffer():
    shapes = [(32, 64, 32, 32), (64, 64, 3, 3), (64,)]
    (out,) = Conv2d.infer_shape(shapes, {"pads": [1, 1, 1, 1]})
    got = Conv2d.bytes(shapes, [out], ["float32"] * 4)
    assert got == 4 * (32 * 64 * 32 * 32 + 64 * 64 * 9 + 64 + 32 * 64 * 32 * 32)


def test_a_channel_mismatch_names_both_tensors_and_shapes():
    with pytest.raises(ShapeError) as e:
        Conv2d.infer_shape([(1, 16, 8, 8), (32, 8, 3, 3)], {}, names=("h1", "conv2.weight"))
    assert str(e.value) == (
        "input 'h1' has shape (1, 16, 8, 8) with 16 channels but weight 'conv2.weight' has shape "
        "(32, 8, 3, 3), which with group 1 expects 8 input channels"
    )


@pytest.mark.parametrize(
    ("shapes", "attrs", "message"),
    [
        ([(1, 3, 8, 8), (4, 3, 3, 3), (3,)], {}, r"bias 'b' has shape \(3,\) but weight 'w' has shape "
                                                 r"\(4, 3, 3, 3\), so it must be \(4,\)"),
        ([(1, 3, 8, 8), (4, 3, 3)], {}, r"weight 'w' has shape \(4, 3, 3\) but must be 4-D"),
        ([(3, 8, 8), (4, 3, 3, 3)], {}, r"input 'x' has shape \(3, 8, 8\) but must be 4-D \(N, C, H, W\)"),
        ([(1, 3, 2, 8), (4, 3, 3, 3)], {}, r"the height axis is 2 \(\+0\+0 padding\) but the kernel spans 3"),
        ([(1, 3, 8, 8), (4, 3, 3, 3)], {"dilations": [4, 1]}, r"dilated kernel spans 9"),
        ([(1, 4, 8, 8), (6, 2, 3, 3)], {"group": 4}, r"with group 4 expects 8 input channels"),
        ([(1, 4, 8, 8), (6, 1, 3, 3)], {"group": 4}, r"6 output channels do not divide into group 4"),
        ([(1, 3, 8, 8), (4, 3, 3, 3)], {"strides": [2]}, r"attribute strides must be a list of 2 integers"),
        ([(1, 3, 8, 8), (4, 3, 3, 3)], {"pads": [1, 1, -1, 1]}, r"attribute pads must hold integers >= 0"),
        ([(1, 3, 8, 8), (4, 3, 3, 3)], {"kernel_shape": [5, 5]},
         r"attribute kernel_shape \[5, 5\] does not match weight 'w' of shape \(4, 3, 3, 3\)"),
    ],
)
def test_bad_shapes_and_attributes_are_explained(shapes, attrs, message):
    with pytest.raises(ShapeError, match=message):
        Conv2d.infer_shape(shapes, attrs, names=("x", "w", "b")[: len(shapes)])


def test_a_matching_kernel_shape_attribute_is_accepted():
    assert Conv2d.infer_shape([(1, 3, 8, 8), (4, 3, 3, 3)], {"kernel_shape": [3, 3]}) == ((1, 4, 6, 6),)


# --- the kernel's layouts (engine.ops.conv_kernels) ---------------------------------------------------

KERNEL_CASES = [
    # (x shape, weight shape, attrs): each picks a different buffer layout
    pytest.param((3, 4, 9, 7), (6, 4, 3, 3), {"pads": [1, 1, 1, 1]}, id="wide-rows-padded"),
    pytest.param((2, 4, 9, 7), (6, 4, 3, 2), {}, id="wide-rows-unpadded-spare-row"),
    pytest.param((2, 4, 9, 7), (6, 4, 3, 3), {"strides": [1, 2], "pads": [0, 1, 2, 0]}, id="wide-rows-stride-1x2"),
    pytest.param((2, 4, 9, 8), (6, 4, 3, 3), {"strides": [1, 3], "pads": [1, 2, 1, 0]},
                 id="wide-rows-width-not-a-multiple-of-the-stride"),
    pytest.param((2, 4, 9, 7), (6, 4, 3, 3), {"pads": [1, 0, 2, 2]}, id="wide-rows-more-padding-right"),
    pytest.param((2, 4, 9, 7), (6, 4, 2, 3), {"strides": [2, 1], "pads": [1, 0, 0, 1]}, id="stride-2x1"),
    pytest.param((2, 4, 9, 7), (6, 4, 2, 3), {"strides": [2, 2], "pads": [0, 1, 1, 2]}, id="stride-2-padded-right"),
    pytest.param((2, 4, 11, 9), (6, 2, 3, 3), {"dilations": [2, 3], "pads": [2, 3, 1, 2], "group": 2},
                 id="dilated-grouped"),
    pytest.param((3, 4, 5, 6), (6, 4, 1, 1), {}, id="1x1-the-image-itself"),
    pytest.param((3, 4, 5, 6), (6, 4, 1, 1), {"strides": [2, 2]}, id="1x1-stride-2-unpadded"),
    pytest.param((2, 6, 8, 8), (6, 1, 3, 3), {"pads": [1, 1, 1, 1], "group": 6}, id="depthwise"),
    pytest.param((1, 3, 1, 1), (5, 3, 1, 1), {}, id="one-pixel"),
]


def _kernel_operands(x_shape, w_shape, seed=3):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(x_shape, dtype=np.float32), rng.standard_normal(w_shape, dtype=np.float32),
            rng.standard_normal(w_shape[0], dtype=np.float32))


def _ref_kwargs(attrs):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in attrs.items()}


@pytest.mark.parametrize(("x_shape", "w_shape", "attrs"), KERNEL_CASES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_every_buffer_layout_matches_the_loop_reference_and_onnxruntime(x_shape, w_shape, attrs, bias):
    x, w, b = _kernel_operands(x_shape, w_shape)
    (y,) = Conv2d.run([x, w, b] if bias else [x, w], attrs)
    expected = reference_conv(x, w, b if bias else None, **_ref_kwargs(attrs))
    assert y.shape == expected.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    inits = {"w": w, "b": b} if bias else {"w": w}
    np.testing.assert_allclose(y, run_onnx_node("Conv", {"x": x}, attrs, initializers=inits), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("images_per_chunk", [1, 2, 3])
def test_chunks_of_images_and_the_last_short_chunk_give_the_same_result(monkeypatch, images_per_chunk):
    x, w, b = _kernel_operands((5, 3, 6, 6), (4, 3, 3, 3))
    attrs = {"pads": [1, 1, 1, 1]}
    pixels_per_image = 6 * 7  # Hout * row pitch W + 1 (wide rows)
    monkeypatch.setattr(conv_kernels, "MIN_COLUMNS", images_per_chunk * pixels_per_image)
    assert Conv2d.layout([x.shape, w.shape], attrs).images_per_chunk == images_per_chunk
    (y,) = Conv2d.run([x, w, b], attrs)
    np.testing.assert_allclose(y, reference_conv(x, w, b, pads=(1, 1, 1, 1)), rtol=1e-5, atol=1e-5)


def test_a_dropped_column_s_non_finite_neighbour_stays_out_of_the_kept_outputs():
    # wide rows: output row 0's dropped columns read the start of input row 1
    x = np.ones((1, 1, 4, 4), dtype=np.float32)
    x[0, 0, 1, 0] = np.inf
    w = np.ones((1, 1, 1, 3), dtype=np.float32)
    (y,) = Conv2d.run([x, w], {})
    np.testing.assert_array_equal(y[0, 0, [0, 2, 3]], 3.0)
    assert np.isinf(y[0, 0, 1, 0]) and np.all(y[0, 0, 1, 1:] == 3.0)


def test_a_non_contiguous_input_is_read_as_its_values():
    x, w, b = _kernel_operands((2, 4, 7, 9), (6, 4, 3, 3))
    xt = x.transpose(0, 1, 3, 2)  # (2, 4, 9, 7), not C-contiguous
    (y,) = Conv2d.run([xt, w, b], {"pads": [1, 1, 1, 1]})
    np.testing.assert_allclose(y, reference_conv(np.ascontiguousarray(xt), w, b, pads=(1, 1, 1, 1)),
                               rtol=1e-5, atol=1e-5)


@pytest.fixture(name="two_threads")
def two_threads_fixture():
    with two_threads():
        yield


def test_images_split_over_two_threads_give_one_thread_s_result_and_restore_blas(two_threads, monkeypatch):
    x, w, b = _kernel_operands((5, 4, 8, 8), (6, 2, 3, 3))
    attrs = {"pads": [1, 1, 1, 1], "group": 2}
    splits = []
    monkeypatch.setattr(conv_kernels, "run_chunks", lambda chunk, scratch, n, size, threads: splits.append(
        (n, size, threads, parallel.threads_allowed())) or chunked.run_chunks(chunk, scratch, n, size, threads))
    (y,) = Conv2d.run([x, w, b], attrs)
    assert splits == [(5, 3, 2, 1)]  # 5 images, a chunk for each thread, BLAS on one thread inside
    assert parallel.threads_allowed() == 2
    with threadpool_limits(limits=1, user_api="blas"):
        (one,) = Conv2d.run([x, w, b], attrs)
    np.testing.assert_array_equal(y, one)


def test_threads_are_the_image_split_or_blas_s_for_one_image():
    attrs = {"pads": [1, 1, 1, 1]}
    assert Conv2d.threads([(8, 4, 8, 8), (6, 4, 3, 3)], attrs, 2) == 2
    assert Conv2d.threads([(3, 4, 8, 8), (6, 4, 3, 3)], attrs, 4) == 3
    assert Conv2d.threads([(1, 4, 8, 8), (6, 4, 3, 3)], attrs, 4) == 4  # BLAS threads the one image's GEMM
    assert Conv2d.threads([(8, 4, 8, 8), (6, 4, 3, 3)], attrs, 1) == 1


def test_kernel_bytes_count_the_padded_copy_columns_and_dropped_columns():
    x, w = (2, 4, 8, 8), (6, 4, 3, 3)
    out = Conv2d.infer_shape([x, w], {"pads": [1, 1, 1, 1]})[0]
    minimum = Conv2d.bytes([x, w], [out], ["float32"] * 3)
    # rows 8+1 apart (the right padding is the next row's left), 10+1 spare rows: padded copy 2x4x11x9,
    # columns 2x36x(8x9), GEMM outputs 2x6x(8x9); each written and read
    extra = 2 * 4 * (2 * 4 * 11 * 9 + 2 * 36 * 72 + 2 * 6 * 72)
    assert Conv2d.kernel_bytes([x, w], [out], ["float32"] * 3, {"pads": [1, 1, 1, 1]}) == minimum + extra
    # 1x1 at stride 1: the image is the GEMM's operand, nothing more is moved
    one = Conv2d.infer_shape([x, (6, 4, 1, 1)], {})[0]
    assert Conv2d.kernel_bytes([x, (6, 4, 1, 1)], [one], ["float32"] * 3, {}) is None
    # with a bias there it is added in place: one more pass over the output
    shapes = [x, (6, 4, 1, 1), (6,)]
    assert (Conv2d.kernel_bytes(shapes, [one], ["float32"] * 4, {})
            == Conv2d.bytes(shapes, [one], ["float32"] * 4) + 2 * 4 * 2 * 6 * 64)
