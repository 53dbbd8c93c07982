import numpy as np
import pytest

from engine.ops import OPS, ShapeError
from engine.ops.linear import Linear


def reference_linear(x, w, b=None):
    """Explicit loops: y[i, j] = sum_k x[i, k] * w[k, j] + b[j], in float64."""
    m, k = x.shape
    n = w.shape[1]
    y = np.zeros((m, n))
    for i in range(m):
        for j in range(n):
            acc = 0.0
            for kk in range(k):
                acc += float(x[i, kk]) * float(w[kk, j])
            y[i, j] = acc + (float(b[j]) if b is not None else 0.0)
    return y


@pytest.fixture
def operands():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 7), dtype=np.float32)
    w = rng.standard_normal((7, 3), dtype=np.float32)
    b = rng.standard_normal(3, dtype=np.float32)
    return x, w, b


def test_it_is_registered_under_its_op_type():
    assert OPS["Linear"] is Linear


def test_it_matches_the_loop_reference_with_bias(operands):
    x, w, b = operands
    (y,) = Linear.run([x, w, b], {})
    assert y.dtype == np.float32 and y.shape == (5, 3)
    np.testing.assert_allclose(y, reference_linear(x, w, b), rtol=1e-5, atol=1e-5)


def test_it_matches_the_loop_reference_without_bias(operands):
    x, w, _ = operands
    (y,) = Linear.run([x, w], {})
    np.testing.assert_allclose(y, reference_linear(x, w), rtol=1e-5, atol=1e-5)


def test_it_applies_to_the_last_axis_of_a_3d_input(operands):
    _, w, b = operands
    x = np.random.default_rng(1).standard_normal((2, 4, 7), dtype=np.float32)
    (y,) = Linear.run([x, w, b], {})
    expected = np.einsum("bsk,kn->bsn", x.astype(np.float64), w.astype(np.float64)) + b
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert Linear.infer_shape([x.shape, w.shape, b.shape], {}) == ((2, 4, 3),)


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_a_4d_input_gets_the_same_result_in_either_layout(operands, layout):
    # A contiguous input runs as one 2-D GEMM over all leading axes, a strided one through matmul's broadcast.
    _, w, b = operands
    x = np.random.default_rng(2).standard_normal((3, 2, 4, 7), dtype=np.float32)
    if layout == "strided":
        x = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
        assert not x.flags.c_contiguous
    (y,) = Linear.run([x, w, b], {})
    expected = np.einsum("abck,kn->abcn", x.astype(np.float64), w.astype(np.float64)) + b
    assert y.shape == (3, 2, 4, 3)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_it_does_not_modify_its_inputs(operands):
    x, w, b = operands
    copies = [a.copy() for a in (x, w, b)]
    Linear.run([x, w, b], {})
    for before, after in zip(copies, (x, w, b)):
        np.testing.assert_array_equal(before, after)


def test_flops_count_a_multiply_add_as_two_and_the_bias_add_as_one():
    assert Linear.flops([(64, 512), (512, 256), (256,)], {}) == 2 * 64 * 512 * 256 + 64 * 256
    assert Linear.flops([(64, 512), (512, 256)], {}) == 2 * 64 * 512 * 256
    assert Linear.flops([(2, 8, 512), (512, 256)], {}) == 2 * 16 * 512 * 256


def test_bytes_are_input_weight_bias_and_output_at_float32():
    shapes = [(64, 512), (512, 256), (256,)]
    got = Linear.bytes(shapes, [(64, 256)], ["float32"] * 4)
    assert got == 4 * (64 * 512 + 512 * 256 + 256 + 64 * 256)


def test_bytes_use_each_tensors_stored_precision():
    got = Linear.bytes([(64, 512), (512, 256)], [(64, 256)], ["float32", "float16", "float32"])
    assert got == 4 * 64 * 512 + 2 * 512 * 256 + 4 * 64 * 256


def test_bytes_refuse_a_dtype_list_of_the_wrong_length():
    with pytest.raises(ValueError, match="2 dtypes for 2 inputs and 1 outputs"):
        Linear.bytes([(4, 8), (8, 2)], [(4, 2)], ["float32", "float32"])


def test_shape_inference_names_both_shapes_on_a_feature_mismatch():
    with pytest.raises(ShapeError) as e:
        Linear.infer_shape([(64, 256), (512, 128)], {}, names=("h1", "fc2.weight"))
    assert str(e.value) == "input 'h1' has shape (64, 256) but weight 'fc2.weight' expects in_features 512"


def test_shape_inference_rejects_a_bias_of_the_wrong_width():
    with pytest.raises(ShapeError, match=r"bias 'b' has shape \(5,\) .* out_features 3, so it must be \(3,\)"):
        Linear.infer_shape([(4, 7), (7, 3), (5,)], {}, names=("x", "w", "b"))


def test_shape_inference_rejects_a_weight_that_is_not_2d():
    with pytest.raises(ShapeError, match=r"weight 'w' has shape \(7,\) but must be 2-D"):
        Linear.infer_shape([(4, 7), (7,)], {}, names=("x", "w"))


def test_arity_is_two_or_three_inputs():
    Linear.check_arity(2, 1)
    Linear.check_arity(3, 1)
    with pytest.raises(ShapeError, match=r"takes 2 to 3 inputs \(input, weight, bias\), got 1"):
        Linear.check_arity(1, 1)
