import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from threadpoolctl import threadpool_limits

from engine.ops import OPS, ShapeError, rnn_kernels
from engine.ops.rnn import AUGRU, AUGRU_ELEMENTWISE_FLOPS, GRU, GRU_ELEMENTWISE_FLOPS

B, T, I, H = 3, 5, 4, 6


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def reference_recurrence(x, w, r, wb, rb, lens=None, scores=None):
    """Row by row, step by step, in float64, straight from the formulas:
    ONNX GRU with linear_before_reset=1, or DIEN's AUGRU when scores are given."""
    x, w, r, wb, rb = (a.astype(np.float64) for a in (x, w, r, wb, rb))
    b, t, _ = x.shape
    h_size = r.shape[0]
    y = np.zeros((b, t, h_size))
    last = np.zeros((b, h_size))
    for row in range(b):
        h = np.zeros(h_size)
        steps = t if lens is None else int(lens[row])
        for step in range(steps):
            gx = x[row, step] @ w + wb
            gh = h @ r + rb
            z = sigmoid(gx[:h_size] + gh[:h_size])
            reset = sigmoid(gx[h_size:2 * h_size] + gh[h_size:2 * h_size])
            cand = np.tanh(gx[2 * h_size:] + reset * gh[2 * h_size:])
            if scores is None:
                h = (1 - z) * cand + z * h
            else:
                u = float(scores[row, step]) * (1 - z)
                h = (1 - u) * h + u * cand
            y[row, step] = h
        last[row] = h
    return y, last


@pytest.fixture(params=[True, False], ids=["numba", "numpy"])
def kernel(request, monkeypatch):
    """Runs a test on the compiled recurrence (True) and on the numpy step loop."""
    compiled = request.param
    if compiled and not rnn_kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(rnn_kernels, "AVAILABLE", compiled)
    return compiled


def random_weights(rng, b, t, i, h):
    x = rng.standard_normal((b, t, i), dtype=np.float32)
    w = rng.standard_normal((i, 3 * h), dtype=np.float32) * np.float32(0.5)
    r = rng.standard_normal((h, 3 * h), dtype=np.float32) * np.float32(0.5)
    wb = rng.standard_normal(3 * h, dtype=np.float32) * np.float32(0.1)
    rb = rng.standard_normal(3 * h, dtype=np.float32) * np.float32(0.1)
    return x, w, r, wb, rb


@pytest.fixture
def weights():
    return random_weights(np.random.default_rng(11), B, T, I, H)


def test_both_are_registered_under_their_op_types():
    assert OPS["GRU"] is GRU and OPS["AUGRU"] is AUGRU


def test_gru_matches_the_per_step_reference(weights, kernel):
    y, last = GRU.run(list(weights), {})
    ref_y, ref_last = reference_recurrence(*weights)
    assert y.dtype == np.float32 and y.shape == (B, T, H) and last.shape == (B, H)
    np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(last, ref_last, rtol=1e-5, atol=1e-6)


def test_gru_with_lengths_keeps_the_state_and_zeroes_padded_outputs(weights, kernel):
    lens = np.array([5, 2, 0], dtype=np.int64)
    y, last = GRU.run([*weights, lens], {})
    ref_y, ref_last = reference_recurrence(*weights, lens=lens)
    np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(last, ref_last, rtol=1e-5, atol=1e-6)
    assert not y[1, 2:].any() and not last[2].any()
    np.testing.assert_array_equal(last[1], y[1, 1])
    # a padded row equals the same row run alone on its valid prefix
    x, w, r, wb, rb = weights
    _, alone_last = GRU.run([x[1:2, :2], w, r, wb, rb], {})
    np.testing.assert_allclose(alone_last[0], last[1], rtol=1e-6)


def test_gru_matches_onnxruntime_with_linear_before_reset(weights, kernel):
    x, w, r, wb, rb = weights
    lens = np.array([5, 3, 1], dtype=np.int64)
    node = helper.make_node("GRU", ["X", "W", "R", "B", "L"], ["Y", "Y_h"], hidden_size=H, linear_before_reset=1)
    inits = [
        numpy_helper.from_array(w.T[None].copy(), "W"),
        numpy_helper.from_array(r.T[None].copy(), "R"),
        numpy_helper.from_array(np.concatenate([wb, rb])[None], "B"),
    ]
    graph = helper.make_graph(
        [node], "gru",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, I]),
         helper.make_tensor_value_info("L", TensorProto.INT32, [B])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [T, 1, B, H]),
         helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [1, B, H])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ort_y, ort_h = sess.run(None, {"X": x.transpose(1, 0, 2).copy(), "L": lens.astype(np.int32)})
    y, last = GRU.run([x, w, r, wb, rb, lens], {})
    np.testing.assert_allclose(y, ort_y[:, 0].transpose(1, 0, 2), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(last, ort_h[0], rtol=1e-4, atol=1e-6)


def test_augru_matches_the_per_step_reference_with_lengths(weights, kernel):
    scores = np.random.default_rng(2).uniform(0, 1, (B, T)).astype(np.float32)
    lens = np.array([4, 5, 1], dtype=np.int64)
    y, last = AUGRU.run([weights[0], scores, *weights[1:], lens], {})
    ref_y, ref_last = reference_recurrence(*weights, lens=lens, scores=scores)
    np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(last, ref_last, rtol=1e-5, atol=1e-6)


def test_augru_with_zero_scores_keeps_the_zero_state_and_with_ones_is_a_gru(weights, kernel):
    x = weights[0]
    y0, last0 = AUGRU.run([x, np.zeros((B, T), np.float32), *weights[1:]], {})
    assert not y0.any() and not last0.any()
    y1, _ = AUGRU.run([x, np.ones((B, T), np.float32), *weights[1:]], {})
    np.testing.assert_allclose(y1, GRU.run(list(weights), {})[0], rtol=1e-5, atol=1e-6)


def test_lengths_outside_the_sequence_are_refused(weights, kernel):
    with pytest.raises(ValueError, match=r"GRU sequence_lens\[1\] = 6 is outside \[0, 5\]"):
        GRU.run([*weights, np.array([1, 6, 2], dtype=np.int64)], {})


def test_flops_count_both_gemms_and_the_gate_arithmetic():
    shapes = [(8, 50, 64), (64, 96), (32, 96), (96,), (96,)]
    gemms = 2 * 8 * 50 * 64 * 96 + 2 * 8 * 50 * 32 * 96
    assert GRU.flops(shapes, {}) == gemms + 26 * 8 * 50 * 32
    assert GRU_ELEMENTWISE_FLOPS == 26 and AUGRU_ELEMENTWISE_FLOPS == 28
    aug = [shapes[0], (8, 50), *shapes[1:], (8,)]
    assert AUGRU.flops(aug, {}) == gemms + 28 * 8 * 50 * 32


def test_bytes_read_every_operand_once_and_write_both_outputs():
    ins = [(8, 50, 64), (64, 96), (32, 96), (96,), (96,), (8,)]
    outs = GRU.infer_shape(ins, {})
    assert outs == ((8, 50, 32), (8, 32))
    got = GRU.bytes(ins, outs, ["float32"] * 5 + ["int64"] + ["float32"] * 2)
    floats = 8 * 50 * 64 + 64 * 96 + 32 * 96 + 96 + 96 + 8 * 50 * 32 + 8 * 32
    assert got == 4 * floats + 8 * 8


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        ([(3, 5), (4, 18), (6, 18), (18,), (18,)], r"input 'x' has shape \(3, 5\) but must be 3-D"),
        ([(3, 5, 4), (4, 18), (6, 12), (18,), (18,)],
         r"recurrence 'r' has shape \(6, 12\) but must be \(hidden, 3 \* hidden\)"),
        ([(3, 5, 4), (5, 18), (6, 18), (18,), (18,)],
         r"weight 'w' has shape \(5, 18\) but input 'x' has 4 features and the hidden size is 6, "
         r"so it must be \(4, 18\)"),
        ([(3, 5, 4), (4, 18), (6, 18), (18,), (12,)], r"recurrence_bias 'rb' has shape \(12,\) but must be \(18,\)"),
        ([(3, 5, 4), (4, 18), (6, 18), (18,), (18,), (5,)],
         r"sequence_lens 'lens' has shape \(5,\) but must be \(3,\)"),
    ],
)
def test_gru_shape_errors_name_the_tensor(shapes, message):
    names = ("x", "w", "r", "wb", "rb", "lens")[: len(shapes)]
    with pytest.raises(ShapeError, match=message):
        GRU.infer_shape(shapes, {}, names=names)


def test_augru_scores_must_match_batch_and_steps():
    shapes = [(3, 5, 4), (3, 4), (4, 18), (6, 18), (18,), (18,)]
    with pytest.raises(ShapeError, match=r"attention 'a' has shape \(3, 4\) but must be \(3, 5\)"):
        AUGRU.infer_shape(shapes, {}, names=("x", "a", "w", "r", "wb", "rb"))


def test_dtypes_are_float32_with_int64_lengths():
    assert GRU.infer_dtype(["float32"] * 5 + ["int64"], {}) == ("float32", "float32")
    with pytest.raises(ShapeError, match="sequence_lens 'l' has dtype int32 but GRU expects int64"):
        GRU.infer_dtype(["float32"] * 5 + ["int32"], {}, names=("x", "w", "r", "wb", "rb", "l"))
    with pytest.raises(ShapeError, match="attention 'a' has dtype float64 but AUGRU expects float32"):
        AUGRU.infer_dtype(["float32", "float64"] + ["float32"] * 4, {}, names=("x", "a", "w", "r", "wb", "rb"))


def test_it_leaves_its_inputs_untouched(weights, kernel):
    lens = np.array([5, 2, 3], dtype=np.int64)
    scores = np.full((B, T), 0.5, dtype=np.float32)
    args = [weights[0], scores, *weights[1:], lens]
    before = [a.copy() for a in args]
    y, last = AUGRU.run(args, {})
    for old, new in zip(before, args):
        np.testing.assert_array_equal(old, new)
    assert not any(np.shares_memory(out, a) for out in (y, last) for a in args)


@pytest.mark.parametrize("op", [GRU, AUGRU])
@pytest.mark.parametrize(("b", "h"), [(9, 5), (37, 8)])  # odd 3H; rows not a multiple of the 4-row block
def test_odd_sizes_and_every_kind_of_length_match_the_reference(op, b, h, kernel):
    rng = np.random.default_rng(b)
    t, i = 7, 3
    x, w, r, wb, rb = random_weights(rng, b, t, i, h)
    lens = rng.integers(0, t + 1, b)
    lens[:3] = (0, t, 1)
    scores = rng.uniform(0, 1, (b, t)).astype(np.float32)
    args = [x, scores, w, r, wb, rb, lens] if op is AUGRU else [x, w, r, wb, rb, lens]
    y, last = op.run(args, {})
    ref_y, ref_last = reference_recurrence(x, w, r, wb, rb, lens=lens, scores=scores if op is AUGRU else None)
    np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(last, ref_last, rtol=1e-5, atol=1e-6)
    assert not y[0].any() and not last[0].any()  # length 0


@pytest.mark.skipif(not rnn_kernels.AVAILABLE, reason="numba is not installed")
def test_the_rows_split_over_threads_give_the_same_bits_as_one_thread(monkeypatch):
    rng = np.random.default_rng(5)
    b, t = 4 * rnn_kernels.MIN_ROWS_PER_THREAD + 3, 6
    x, w, r, wb, rb = random_weights(rng, b, t, 4, 6)
    args = [x, rng.uniform(0, 1, (b, t)).astype(np.float32), w, r, wb, rb, rng.integers(0, t + 1, b)]
    with threadpool_limits(1):
        one = AUGRU.run(args, {})
    split = []
    ranges = rnn_kernels._ranges
    monkeypatch.setattr(rnn_kernels, "_ranges", lambda lens, parts: split.append(parts) or ranges(lens, parts))
    with threadpool_limits(2):
        assert AUGRU.threads([a.shape for a in args], {}, 2) == 2
        two = AUGRU.run(args, {})
    assert split == [2]
    for a, c in zip(one, two):
        np.testing.assert_array_equal(a, c)
    _, ref_last = reference_recurrence(x, w, r, wb, rb, lens=args[6], scores=args[1])
    np.testing.assert_allclose(two[1], ref_last, rtol=1e-5, atol=1e-6)


def test_the_ranges_cover_every_row_once_with_about_equal_work():
    lens = np.array([50, 40, 40, 30, 20, 10, 10, 5, 0, 0])
    for parts in (1, 2, 3):
        ranges = rnn_kernels._ranges(lens, parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == lens.size
        assert all(a[1] == c[0] for a, c in zip(ranges, ranges[1:]))
        assert len(ranges) == parts
    (_, cut), _ = rnn_kernels._ranges(lens, 2)
    assert abs(int(lens[:cut].sum()) - int(lens[cut:].sum())) <= lens.max()


def test_threads_and_kernel_bytes_tell_what_the_kernel_does(monkeypatch):
    shapes = [(64, 50, 8), (8, 24), (8, 24), (24,), (24,), (64,)]
    outs = GRU.infer_shape(shapes, {})
    dtypes = ["float32"] * 5 + ["int64"] + ["float32"] * 2
    monkeypatch.setattr(rnn_kernels, "AVAILABLE", True)
    assert GRU.threads(shapes, {}, 2) == 2  # the rows split over two threads
    assert GRU.threads([(8, 50, 8), *shapes[1:5], (8,)], {}, 2) == 1  # too few rows to split
    transposed = 2 * 4 * (8 * 24 + 8 * 24)  # W and R copied, written once and read once
    assert GRU.kernel_bytes(shapes, outs, dtypes, {}) == GRU.bytes(shapes, outs, dtypes) + transposed
    monkeypatch.setattr(rnn_kernels, "AVAILABLE", False)
    assert GRU.threads(shapes, {}, 2) == 2  # BLAS products
    assert GRU.kernel_bytes(shapes, outs, dtypes, {}) is None
