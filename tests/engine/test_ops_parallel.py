"""Elementwise ops split over the engine's threads (engine.ops.parallel): the
same numbers as one unsplit numpy call, broadcasting included, and the thread
count the layer reports is the one the kernel uses."""
import numpy as np
import pytest
from scipy import special
from threadpoolctl import threadpool_limits

from engine.ops import parallel
from engine.ops.activation import Relu
from engine.ops.elementwise import Add, Gelu, Mul, Sigmoid, Softmax, Sub, Tanh
from engine.ops.fused import FusedLinear
from engine.ops.shape import Concat, Gather
from tests.engine.thread_splits import two_thread_splits

BIG = (1030, 513)  # 528k elements: two blocks of at least MIN_ELEMENTS_PER_THREAD
SMALL = (30, 25)


@pytest.fixture
def two_threads(monkeypatch):
    """The engine's limit at 2, with every split of the elementwise and shape ops recorded."""
    with two_thread_splits(monkeypatch, "engine.ops.elementwise.run_parts", "engine.ops.shape.run_parts") as splits:
        yield splits


def rng():
    return np.random.default_rng(11)


@pytest.mark.parametrize("op,ufunc", [(Add, np.add), (Sub, np.subtract), (Mul, np.multiply)])
@pytest.mark.parametrize("b_shape", [BIG, (1, BIG[1]), (BIG[1],), (BIG[0], 1), (1, 1)])
def test_binary_ops_split_by_rows_give_numpy_s_result(two_threads, op, ufunc, b_shape):
    a = rng().standard_normal(BIG, dtype=np.float32)
    b = rng().standard_normal(b_shape, dtype=np.float32) + np.float32(0.5)
    (y,) = op.run([a, b], {})
    np.testing.assert_array_equal(y, ufunc(a, b))
    assert two_threads == [(BIG[0], 2)]
    assert op.threads([a.shape, b.shape], {}, 2) == 2


def test_a_broadcast_left_operand_is_read_whole_by_every_block(two_threads):
    a = rng().standard_normal((BIG[1],), dtype=np.float32)
    b = rng().standard_normal(BIG, dtype=np.float32)
    np.testing.assert_array_equal(Sub.run([a, b], {})[0], a - b)
    assert two_threads == [(BIG[0], 2)]


def test_integer_tensors_split_too(two_threads):
    a = rng().integers(-1000, 1000, size=BIG, dtype=np.int64)
    (y,) = Mul.run([a, a], {})
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, a * a)


@pytest.mark.parametrize("op,reference,exact", [
    (Relu, lambda x: np.maximum(x, 0), True),
    (Tanh, np.tanh, False),
    (Sigmoid, special.expit, False),
    (Gelu, lambda x: 0.5 * x * (1 + special.erf(x / np.sqrt(2.0))), False),
])
def test_unary_ops_split_by_rows_give_the_unsplit_result(two_threads, op, reference, exact):
    x = rng().standard_normal(BIG, dtype=np.float32) * np.float32(4)
    (y,) = op.run([x], {})
    with threadpool_limits(limits=1, user_api="blas"):
        (single,) = op.run([x], {})
    np.testing.assert_array_equal(y, single)  # the split changes nothing
    want = reference(x.astype(np.float64))
    if exact:
        np.testing.assert_array_equal(y, want.astype(np.float32))
    else:
        np.testing.assert_allclose(y, want, rtol=2e-6, atol=1e-7)
    assert two_threads == [(BIG[0], 2)]
    assert op.threads([BIG], {}, 2) == 2


def test_sigmoid_saturates_without_overflow_warnings():
    x = np.array([-1e4, -200.0, -88.0, 0.0, 88.0, 1e4, np.inf, -np.inf, np.nan], dtype=np.float32)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        (y,) = Sigmoid.run([x], {})
    np.testing.assert_allclose(y[:6], special.expit(x[:6].astype(np.float64)), rtol=1e-6, atol=1e-37)
    assert y[6] == 1.0 and 0.0 <= y[7] < 1e-38 and np.isnan(y[8])


def test_softmax_splits_rows_but_never_the_normalized_axis(two_threads):
    x = rng().standard_normal(BIG, dtype=np.float32)
    (rows,) = Softmax.run([x], {"axis": 1})
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(rows, e / e.sum(axis=1, keepdims=True), rtol=1e-6)
    assert two_threads == [(BIG[0], 2)]
    (columns,) = Softmax.run([x], {"axis": 0})
    np.testing.assert_allclose(columns.sum(axis=0), 1.0, rtol=1e-5)
    assert two_threads == [(BIG[0], 2)]  # axis 0 ran unsplit
    assert Softmax.threads([BIG], {"axis": 0}, 2) == 1 and Softmax.threads([BIG], {"axis": -1}, 2) == 2


@pytest.mark.parametrize("activation", ["Relu", "Sigmoid", "Tanh", "Gelu"])
def test_fused_linear_applies_its_activation_split_as_the_op_alone_does(two_threads, activation):
    x = rng().standard_normal((BIG[0], 64), dtype=np.float32)
    w = rng().standard_normal((64, BIG[1]), dtype=np.float32) * np.float32(0.2)
    (fused,) = FusedLinear.run([x, w], {"activation": activation, "approximate": "none"})
    op = {"Relu": Relu, "Sigmoid": Sigmoid, "Tanh": Tanh, "Gelu": Gelu}[activation]
    (alone,) = op.run([x @ w], {})
    np.testing.assert_array_equal(fused, alone)


def test_small_tensors_run_on_one_thread(two_threads):
    x = rng().standard_normal(SMALL, dtype=np.float32)
    Sigmoid.run([x], {})
    Add.run([x, x], {})
    assert two_threads == []
    assert Sigmoid.threads([SMALL], {}, 2) == 1 and Add.threads([SMALL, SMALL], {}, 2) == 1


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_concat_past_the_first_axis_splits_by_rows(two_threads, axis):
    parts = [rng().standard_normal((256, 50, w), dtype=np.float32) for w in (64, 64, 1, 127)] if axis != 1 else \
        [rng().standard_normal((256, h, 64), dtype=np.float32) for h in (20, 30, 3)]
    (y,) = Concat.run(parts, {"axis": axis})
    np.testing.assert_array_equal(y, np.concatenate(parts, axis=axis))
    assert two_threads == [(256, 2)]
    assert Concat.threads([p.shape for p in parts], {"axis": axis}, 2) == 2
    assert Concat.threads([(256, 50, 64)] * 2, {"axis": 0}, 2) == 1


def test_gather_rows_of_a_table_split_by_index_rows(two_threads):
    table = rng().standard_normal((5000, 64), dtype=np.float32)
    idx = rng().integers(-5000, 5000, size=(256, 50))  # negative ids count from the end
    (y,) = Gather.run([table, idx], {"axis": 0})
    np.testing.assert_array_equal(y, table[idx])
    assert two_threads == [(256, 2)]
    assert Gather.threads([table.shape, idx.shape], {"axis": 0}, 2) == 2


def test_gather_along_a_later_axis_splits_by_data_rows(two_threads):
    q = rng().standard_normal((256, 1, 64), dtype=np.float32)
    tile = np.zeros(50, dtype=np.int64)
    (y,) = Gather.run([q, tile], {"axis": 1})
    np.testing.assert_array_equal(y, np.broadcast_to(q, (256, 50, 64)))
    assert two_threads == [(256, 2)]
    with pytest.raises(ValueError, match="index 1 at position 3 is out of range"):
        Gather.run([q, np.array([0, 0, 0, 1] * 20)], {"axis": 1})


def test_gather_by_a_scalar_index_stays_whole(two_threads):
    table = rng().standard_normal((3, 800, 800), dtype=np.float32)
    (y,) = Gather.run([table, np.array(-1)], {"axis": 0})
    np.testing.assert_array_equal(y, table[-1])
    assert two_threads == [] and Gather.threads([table.shape, ()], {"axis": 0}, 2) == 1


def test_a_block_s_error_reaches_the_caller_after_every_block_is_done():
    done = []

    def part(lo, hi):
        done.append(lo)
        if lo:
            raise ValueError(f"block at {lo}")

    with pytest.raises(ValueError, match="block at 50"):
        parallel.run_parts(part, 100, 2)
    assert sorted(done) == [0, 50]
