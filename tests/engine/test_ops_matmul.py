import numpy as np
import pytest

from engine.ops import OPS, ShapeError
from engine.ops.matmul import MatMul
from tests.engine.thread_splits import two_thread_splits


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def reference_bmm(a, b):
    """Loops over batch, rows, columns and the contracted axis, in float64."""
    bsz, m, k = a.shape
    n = b.shape[-1]
    out = np.zeros((bsz, m, n))
    for i in range(bsz):
        rhs = b[i] if b.ndim == 3 else b
        for r in range(m):
            for c in range(n):
                out[i, r, c] = sum(float(a[i, r, kk]) * float(rhs[kk, c]) for kk in range(k))
    return out


def test_it_is_registered_under_its_onnx_name():
    assert OPS["MatMul"] is MatMul


def test_a_batched_product_matches_the_loop_reference():
    a, b = rand(3, 4, 5), rand(3, 5, 2, seed=1)
    (y,) = MatMul.run([a, b], {})
    assert y.shape == (3, 4, 2) == MatMul.infer_shape([a.shape, b.shape], {})[0]
    np.testing.assert_allclose(y, reference_bmm(a, b), rtol=1e-5, atol=1e-5)


def test_a_2d_right_operand_is_broadcast_over_the_batch():
    a, b = rand(3, 4, 5), rand(5, 2, seed=1)
    (y,) = MatMul.run([a, b], {})
    np.testing.assert_allclose(y, reference_bmm(a, b), rtol=1e-5, atol=1e-5)
    assert MatMul.flops([a.shape, b.shape], {}) == 2 * 3 * 4 * 2 * 5
    # the shared right operand is read once: minimum traffic
    assert MatMul.bytes([a.shape, b.shape], [(3, 4, 2)], ["float32"] * 3) == 4 * (60 + 10 + 24)


@pytest.mark.parametrize(
    ("a", "b", "out"),
    [((5,), (5, 2), (2,)), ((4, 5), (5,), (4,)), ((5,), (5,), ()), ((2, 1, 4, 5), (3, 5, 6), (2, 3, 4, 6))],
)
def test_shapes_follow_numpy_for_vectors_and_broadcast_batches(a, b, out):
    assert MatMul.infer_shape([a, b], {}) == (out,)
    assert np.matmul(np.zeros(a), np.zeros(b)).shape == out


def test_flops_count_a_multiply_add_as_two_over_the_broadcast_batch():
    assert MatMul.flops([(2, 1, 4, 5), (3, 5, 6)], {}) == 2 * 6 * 4 * 5 * 6
    assert MatMul.flops([(64, 512), (512, 256)], {}) == 2 * 64 * 512 * 256


def test_errors_name_both_operands():
    with pytest.raises(ShapeError, match=r"a 'q' has shape \(4, 5\) and b 'k' has shape \(6, 2\); "
                                         r"the contracted dimensions 5 and 6 differ"):
        MatMul.infer_shape([(4, 5), (6, 2)], {}, names=("q", "k"))
    with pytest.raises(ShapeError, match=r"batch dimensions \(2,\) and \(3,\) do not broadcast"):
        MatMul.infer_shape([(2, 4, 5), (3, 5, 6)], {}, names=("q", "k"))
    with pytest.raises(ShapeError, match="b 'k' is a scalar"):
        MatMul.infer_shape([(2, 4), ()], {}, names=("q", "k"))


@pytest.mark.parametrize(("a", "b"), [((3, 4, 5), (3, 5, 2)), ((3, 4, 5), (5, 2)), ((5,), (5, 2))])
def test_it_agrees_with_onnxruntime(a, b):
    from tests.engine.test_ops_elementwise import run_onnx

    x, w = rand(*a), rand(*b, seed=1)
    (y,) = MatMul.run([x, w], {})
    np.testing.assert_allclose(y, run_onnx("MatMul", [x, w]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("a_shape", [(2, 3, 4, 5), (3, 4, 5)])
def test_an_nd_left_operand_times_a_matrix_runs_as_one_gemm(monkeypatch, a_shape):
    a, b = rand(*a_shape), rand(5, 6, seed=1)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    calls = []
    matmul = np.matmul

    def recording(x, w, **kw):
        calls.append((x.shape, w.shape))
        return matmul(x, w, **kw)

    monkeypatch.setattr("engine.ops.matmul.np.matmul", recording)
    (y,) = MatMul.run([a, b], {})
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    assert calls == [((int(np.prod(a_shape[:-1])), 5), (5, 6))]


def test_a_strided_left_operand_still_gives_numpy_s_product():
    a = rand(3, 8, 5)[:, ::2]  # not C-contiguous: its rows cannot be merged without a copy
    b = rand(5, 6, seed=1)
    np.testing.assert_allclose(MatMul.run([a, b], {})[0], np.matmul(a, b), rtol=1e-6, atol=1e-6)


@pytest.fixture
def two_threads(monkeypatch):
    with two_thread_splits(monkeypatch, "engine.ops.matmul.run_parts") as splits:
        yield splits


def test_a_batch_of_small_products_is_split_over_two_threads(two_threads):
    a, b = rand(16, 8, 64, 16), rand(16, 8, 16, 64, seed=1)  # 524k outputs of 64k-multiply-add products
    (y,) = MatMul.run([a, b], {})
    np.testing.assert_allclose(y, np.matmul(a.astype(np.float64), b.astype(np.float64)), rtol=1e-5, atol=1e-5)
    assert two_threads == [(16, 2)]
    assert MatMul.threads([a.shape, b.shape], {}, 2) == 2


@pytest.mark.parametrize(("a", "b", "threads"), [
    ((4, 8, 128, 64), (4, 8, 64, 64), 2),  # each product 2^19 multiply-adds: BLAS threads it
    ((4, 8, 64, 16), (8, 16, 64), 1),  # a broadcast batch: one np.matmul of small products
    ((4, 4, 4), (4, 4, 4), 1),  # too little work to split
])
def test_other_products_run_in_one_np_matmul(two_threads, a, b, threads):
    x, w = rand(*a), rand(*b, seed=1)
    (y,) = MatMul.run([x, w], {})
    np.testing.assert_allclose(y, np.matmul(x, w), rtol=1e-5, atol=1e-5)
    assert two_threads == []
    assert MatMul.threads([a, b], {}, 2) == threads


def test_a_big_2d_product_reports_blas_s_threads_and_a_small_one_one():
    assert MatMul.threads([(4096, 512), (512, 512)], {}, 2) == 2
    assert MatMul.threads([(64, 64), (64, 64)], {}, 2) == 1
