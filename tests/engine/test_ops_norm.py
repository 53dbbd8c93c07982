import numpy as np
import pytest

from engine.ops import OPS, ShapeError, norm_kernels
from engine.ops.norm import BatchNormalization, LayerNormalization
from tests.engine.ort_single_node import run_onnx_node
from tests.engine.thread_splits import two_thread_splits


def reference_batch_norm(x, scale, bias, mean, var, eps):
    y = np.empty(x.shape)
    for c in range(x.shape[1]):
        y[:, c] = (x[:, c].astype(np.float64) - mean[c]) / np.sqrt(float(var[c]) + eps) * scale[c] + bias[c]
    return y


def reference_layer_norm(x, scale, bias, axis, eps):
    """Row by row over the flattened normalised axes, in float64."""
    lead = x.shape[:axis]
    rows = x.reshape(int(np.prod(lead)), -1).astype(np.float64)
    out = np.empty_like(rows)
    for i, row in enumerate(rows):
        mu = sum(row) / len(row)
        var = sum((v - mu) ** 2 for v in row) / len(row)
        out[i] = (row - mu) / np.sqrt(var + eps)
    out = out.reshape(x.shape) * scale
    return out + bias if bias is not None else out


@pytest.fixture
def bn_operands():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 5, 4, 3), dtype=np.float32) * 3 + 1
    scale = rng.uniform(0.5, 1.5, 5).astype(np.float32)
    bias = rng.standard_normal(5, dtype=np.float32)
    mean = rng.standard_normal(5, dtype=np.float32)
    var = rng.uniform(0.1, 4.0, 5).astype(np.float32)
    return x, scale, bias, mean, var


def test_they_are_registered_under_the_onnx_names():
    assert OPS["BatchNormalization"] is BatchNormalization
    assert OPS["LayerNormalization"] is LayerNormalization


def test_batch_norm_matches_the_reference_and_onnxruntime(bn_operands):
    x, scale, bias, mean, var = bn_operands
    attrs = {"epsilon": 1e-3}
    (y,) = BatchNormalization.run(bn_operands, attrs)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, reference_batch_norm(x, scale, bias, mean, var, 1e-3), rtol=1e-5, atol=1e-5)
    expected = run_onnx_node("BatchNormalization", {"x": x}, attrs,
                             initializers={"scale": scale, "bias": bias, "mean": mean, "var": var})
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_batch_norm_works_on_2d_input_and_ignores_momentum(bn_operands):
    _, scale, bias, mean, var = bn_operands
    x = np.random.default_rng(2).standard_normal((3, 5), dtype=np.float32)
    (y,) = BatchNormalization.run([x, scale, bias, mean, var], {"epsilon": 1e-5, "momentum": 0.1})
    np.testing.assert_allclose(y, reference_batch_norm(x, scale, bias, mean, var, 1e-5), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("shape", "axis"), [((2, 6, 8), -1), ((2, 6, 8), 1), ((3, 16), 1), ((2, 3, 4, 5), -2)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm_matches_the_reference_and_onnxruntime(shape, axis, with_bias):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape, dtype=np.float32) * 2 + 0.5
    normalised = shape[axis % len(shape):]
    scale = rng.uniform(0.5, 1.5, normalised).astype(np.float32)
    bias = rng.standard_normal(normalised, dtype=np.float32) if with_bias else None
    inputs = [x, scale] + ([bias] if with_bias else [])
    attrs = {"axis": axis, "epsilon": 1e-5}
    (y,) = LayerNormalization.run(inputs, attrs)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, reference_layer_norm(x, scale, bias, axis % len(shape), 1e-5),
                               rtol=1e-4, atol=1e-5)
    weights = {"scale": scale, **({"bias": bias} if with_bias else {})}
    np.testing.assert_allclose(y, run_onnx_node("LayerNormalization", {"x": x}, attrs, initializers=weights),
                               rtol=1e-4, atol=1e-5)


def test_norms_leave_their_inputs_untouched(bn_operands):
    copies = [a.copy() for a in bn_operands]
    BatchNormalization.run(bn_operands, {})
    x = bn_operands[0].reshape(2, 5, 12)
    ln_inputs = [x, np.ones(12, np.float32), np.zeros(12, np.float32)]
    ln_copies = [a.copy() for a in ln_inputs]
    LayerNormalization.run(ln_inputs, {})
    for before, after in zip(copies + ln_copies, list(bn_operands) + ln_inputs):
        np.testing.assert_array_equal(before, after)


def test_flops_and_bytes():
    x = (32, 64, 16, 16)
    channel = (64,)
    assert BatchNormalization.flops([x] + [channel] * 4, {}) == 2 * 32 * 64 * 16 * 16 + 5 * 64
    assert BatchNormalization.bytes([x] + [channel] * 4, [x], ["float32"] * 6) == 4 * (2 * 32 * 64 * 256 + 4 * 64)
    t, e = (32, 64, 512), (512,)
    assert LayerNormalization.flops([t, e, e], {}) == 7 * 32 * 64 * 512 + 4 * 32 * 64
    assert LayerNormalization.flops([t, e], {}) == 6 * 32 * 64 * 512 + 4 * 32 * 64
    assert LayerNormalization.flops([t, (64, 512)], {"axis": 1}) == 6 * 32 * 64 * 512 + 4 * 32


@pytest.mark.parametrize(
    ("op", "shapes", "attrs", "message"),
    [
        (BatchNormalization, [(2, 5, 4), (5,), (5,), (4,), (5,)], {},
         r"mean 'mean' has shape \(4,\) but input 'x' has shape \(2, 5, 4\) with 5 channels, so it must be \(5,\)"),
        (BatchNormalization, [(5,), (5,), (5,), (5,), (5,)], {},
         r"input 'x' has shape \(5,\) but must be \(N, C, ...\)"),
        (BatchNormalization, [(2, 5), (5,), (5,), (5,), (5,)], {"epsilon": -1.0},
         "attribute epsilon must be a number >= 0"),
        (LayerNormalization, [(2, 6, 8), (6,)], {},
         r"scale 'scale' has shape \(6,\) but input 'x' has shape \(2, 6, 8\) normalised from axis 2, "
         r"so it must be \(8,\)"),
        (LayerNormalization, [(2, 6, 8), (8,), (6, 8)], {},
         r"bias 'bias' has shape \(6, 8\) .* so it must be \(8,\)"),
        (LayerNormalization, [(2, 6, 8), (8,)], {"axis": 3},
         r"attribute axis 3 is out of range for a rank-3 input 'x'"),
    ],
)
def test_bad_shapes_and_attributes_are_explained(op, shapes, attrs, message):
    names = ("x", "scale", "bias", "mean", "var")[: len(shapes)]
    with pytest.raises(ShapeError, match=message):
        op.infer_shape(shapes, attrs, names=names)


needs_numba = pytest.mark.skipif(not norm_kernels.AVAILABLE, reason="numba is not installed")


@pytest.fixture
def two_threads(monkeypatch):
    with two_thread_splits(monkeypatch, "engine.ops.norm.run_parts") as splits:
        yield splits


@needs_numba
@pytest.mark.parametrize("with_bias", [True, False])
def test_a_big_layer_norm_split_over_two_threads_matches_the_reference(two_threads, with_bias):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 200, 512), dtype=np.float32) * 3 + 2  # 1200 rows, 614k elements: two parts
    scale = rng.uniform(0.5, 1.5, 512).astype(np.float32)
    bias = rng.standard_normal(512, dtype=np.float32) if with_bias else None
    (y,) = LayerNormalization.run([x, scale] + ([bias] if with_bias else []), {"epsilon": 1e-5})
    np.testing.assert_allclose(y, reference_layer_norm(x, scale, bias, 2, 1e-5), rtol=1e-4, atol=1e-5)
    assert two_threads == [(1200, 2)]
    assert LayerNormalization.threads([x.shape, scale.shape], {}, 2) == 2


@needs_numba
def test_a_small_layer_norm_stays_on_one_thread(two_threads):
    x = np.random.default_rng(6).standard_normal((4, 64), dtype=np.float32)
    LayerNormalization.run([x, np.ones(64, np.float32)], {})
    assert two_threads == [(4, 1)]
    assert LayerNormalization.threads([x.shape, (64,)], {}, 2) == 1


def test_the_numpy_path_without_numba_matches_the_reference_and_runs_on_one_thread(monkeypatch):
    monkeypatch.setattr(norm_kernels, "AVAILABLE", False)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 50, 512), dtype=np.float32)
    scale, bias = rng.uniform(0.5, 1.5, 512).astype(np.float32), rng.standard_normal(512, dtype=np.float32)
    (y,) = LayerNormalization.run([x, scale, bias], {})
    np.testing.assert_allclose(y, reference_layer_norm(x, scale, bias, 2, 1e-5), rtol=1e-4, atol=1e-5)
    assert LayerNormalization.threads([x.shape, (512,), (512,)], {}, 2) == 1


def test_a_non_contiguous_input_is_normalised_by_its_values():
    x = np.random.default_rng(8).standard_normal((6, 8, 4), dtype=np.float32).transpose(0, 2, 1)
    scale = np.linspace(0.5, 1.5, 8, dtype=np.float32)
    (y,) = LayerNormalization.run([x, scale], {})
    np.testing.assert_allclose(y, reference_layer_norm(np.ascontiguousarray(x), scale, None, 2, 1e-5),
                               rtol=1e-4, atol=1e-5)
