"""The integer GEMM behind Int8Linear (engine/ops/int_gemm.py): its int32
accumulator must be bit for bit the int64 product of the quantized operands,
whatever the activations do to MLAS's int16 pairs."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from engine.ops import int_gemm
from engine.ops.quantized import Int8Linear
from engine.quant.numeric import quantize, quantize_weight, scale_for

pytestmark = pytest.mark.skipif(not int_gemm.AVAILABLE, reason="the integer GEMM needs numba")

GRIDS = {False: (-127, 127), True: (0, 255)}  # act_unsigned -> (lo, hi)


@pytest.fixture(params=["pairs", "elements"])
def split_rule(request, monkeypatch):
    """Both ways of keeping A safe: the probed pairing, and the per-element fallback."""
    if request.param == "pairs" and not int_gemm.pairing_holds():
        pytest.skip("this onnxruntime's u8 x s8 kernel does not pair (2i, 2i+1)")
    monkeypatch.setattr(int_gemm, "_pairing", [request.param == "pairs"])
    return request.param


def acc_of(q: np.ndarray, wq: np.ndarray, unsigned: bool, threads: int = 1) -> np.ndarray:
    """int8_matmul's int32 accumulator for integer activations q (scale 1: x = q quantizes to q)."""
    lo, hi = GRIDS[unsigned]
    n = wq.shape[1]
    _, acc = int_gemm.int8_matmul(np.ascontiguousarray(q, dtype=np.float32), np.float32(1), lo, hi, unsigned, wq,
                                  np.float32(1), np.ones(n, np.float32), None, False, threads)
    return acc


def exact(q: np.ndarray, wq: np.ndarray) -> np.ndarray:
    return q.astype(np.int64) @ wq.astype(np.int64)


@pytest.mark.parametrize("unsigned", [False, True])
@pytest.mark.parametrize("k", [1, 7, 13, 258, 1024, 1041])
def test_the_extremes_accumulate_exactly(split_rule, k, unsigned):
    """Every activation at the top (or bottom) of its grid against weights of
    +127 and -128: every int16 pair MLAS could form would saturate if A
    carried them whole, and every partial sum is as large as it gets."""
    lo, hi = GRIDS[unsigned]
    rng = np.random.default_rng(k)
    q = rng.choice([lo, hi], size=(6, k)).astype(np.float32)
    q[0], q[1] = hi, lo
    wq = rng.choice(np.array([-128, 127], np.int8), size=(k, 5))
    wq[:, 0], wq[:, 1] = 127, -128
    acc = acc_of(q, wq, unsigned)
    assert acc.dtype == np.int32
    np.testing.assert_array_equal(acc, exact(q, wq))
    assert acc[0, 0] == k * hi * 127


@pytest.mark.parametrize("unsigned", [False, True])
@pytest.mark.parametrize("m, k, n", [(1, 512, 256), (5, 33, 1), (256, 515, 64)])
def test_random_activations_over_the_whole_grid(split_rule, m, k, n, unsigned):
    """Uniform activations: about half of them need a residual (far more than
    real ones), at M = 1 (MLAS's narrow path) and batch sizes, odd K."""
    lo, hi = GRIDS[unsigned]
    rng = np.random.default_rng(m * k)
    q = rng.integers(lo, hi + 1, size=(m, k)).astype(np.float32)
    wq = rng.integers(-128, 128, size=(k, n)).astype(np.int8)
    np.testing.assert_array_equal(acc_of(q, wq, unsigned), exact(q, wq))


def test_two_threads_give_the_same_accumulator(split_rule):
    rng = np.random.default_rng(3)
    q = rng.integers(0, 256, size=(512, 300)).astype(np.float32)
    wq = rng.integers(-127, 128, size=(300, 200)).astype(np.int8)
    with threadpool_limits(2):
        np.testing.assert_array_equal(acc_of(q, wq, True, threads=2), exact(q, wq))


@pytest.mark.parametrize("unsigned", [False, True])
def test_the_split_keeps_every_pair_inside_int16(unsigned):
    """A + R - zero point is q again, A fits uint8, R int8, and MLAS's pairs
    (A's positions 2i, 2i+1) sum to at most PAIR_SUM, or every A is at most
    A_MAX without the pairing."""
    lo, hi = GRIDS[unsigned]
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 301), dtype=np.float32) * np.float32(60)
    q = np.clip(np.rint(x), lo, hi).astype(np.int64)
    a, r = int_gemm.split(x, np.float32(1), lo, hi, unsigned)
    assert a.dtype == np.uint8 and r.dtype == np.int8 and r.shape[1] % 8 == 0
    assert not r[:, x.shape[1]:].any()
    a_in_x_order = a.astype(np.int64)
    if int_gemm.pairing_holds():
        pairs = a_in_x_order[:, :300].reshape(64, 150, 2).sum(axis=2)
        assert pairs.max() <= int_gemm.PAIR_SUM
        a_in_x_order[:, int_gemm.pair_order(301)] = a.astype(np.int64)
    else:
        assert a.max() <= int_gemm.A_MAX
    np.testing.assert_array_equal(a_in_x_order + r[:, :301] - int_gemm.zero_point(unsigned), q)


def test_the_pair_order_interleaves_the_halves():
    np.testing.assert_array_equal(int_gemm.pair_order(7), [0, 3, 1, 4, 2, 5, 6])
    np.testing.assert_array_equal(np.sort(int_gemm.pair_order(1024)), np.arange(1024))


@pytest.mark.parametrize("unsigned", [False, True])
@pytest.mark.parametrize("activation", [None, "Relu", "Tanh"])
def test_int8_linear_matches_the_float32_chunked_path_bit_for_bit(monkeypatch, unsigned, activation):
    """The integer GEMM and the exact float32 GEMM path (used without numba)
    give the same y, bias and activation included."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 40, 600), dtype=np.float32)
    if unsigned:
        np.maximum(x, 0, out=x)
    wq, sw = quantize_weight(rng.standard_normal((600, 96), dtype=np.float32))
    b = rng.uniform(-1, 1, 96).astype(np.float32)
    attrs = {"act_unsigned": unsigned, "activation": activation}
    (y,) = Int8Linear.run([x, wq, sw, b], attrs)
    monkeypatch.setattr(int_gemm, "AVAILABLE", False)
    (ref,) = Int8Linear.run([x, wq, sw, b], attrs)
    assert y.shape == (3, 40, 96) and y.dtype == np.float32
    np.testing.assert_array_equal(y, ref)


def test_relu_fused_in_the_last_pass_is_numpy_s(split_rule):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((70, 130), dtype=np.float32)
    wq, sw = quantize_weight(rng.standard_normal((130, 20), dtype=np.float32))
    b = rng.uniform(-0.5, 0.5, 20).astype(np.float32)
    (y,) = Int8Linear.run([x, wq, sw, b], {"activation": "Relu"})
    sx = scale_for(np.abs(x).max())
    acc = (quantize(x, sx).astype(np.int64) @ wq.astype(np.int64)).astype(np.float32)
    np.testing.assert_array_equal(y, np.maximum(acc * (sx * sw) + b, np.float32(0)))


def test_a_static_scale_refuses_nan():
    x = np.ones((4, 8), np.float32)
    x[2, 3] = np.nan
    wq, sw = quantize_weight(np.ones((8, 3), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        Int8Linear.run([x, wq, sw], {"act_amax": 2.0})


def test_a_session_goes_with_its_weight():
    rng = np.random.default_rng(9)
    wq = rng.integers(-127, 128, size=(16, 4)).astype(np.int8)
    before = len(int_gemm.SESSIONS)
    acc_of(np.ones((2, 16), np.float32), wq, True)
    acc_of(np.ones((2, 16), np.float32), wq, True)  # the same session again
    assert len(int_gemm.SESSIONS) == before + 1
    del wq
    assert len(int_gemm.SESSIONS) == before
