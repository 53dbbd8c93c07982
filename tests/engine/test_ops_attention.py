import math

import numpy as np
import pytest

from engine.ops import OPS, ShapeError, attention, norm_kernels
from engine.ops.attention import MultiHeadAttention
from tests.engine.thread_splits import two_thread_splits


def reference_attention(x, wq, bq, wk, bk, wv, bv, wo, bo, heads, mask=None):
    """Head by head in float64 with einsum and an unshifted softmax."""
    x = x.astype(np.float64)
    b, s, e = x.shape
    d = e // heads
    q, k, v = (np.einsum("bse,ef->bsf", x, w) + bias for w, bias in ((wq, bq), (wk, bk), (wv, bv)))
    out = np.empty((b, s, e))
    for h in range(heads):
        cols = slice(h * d, (h + 1) * d)
        scores = np.einsum("bqd,bkd->bqk", q[..., cols], k[..., cols]) / math.sqrt(d)
        if mask is not None:
            scores = scores + np.broadcast_to(mask, (b, heads, s, s))[:, h]
        p = np.exp(scores)
        p /= p.sum(axis=-1, keepdims=True)
        out[..., cols] = np.einsum("bqk,bkd->bqd", p, v[..., cols])
    return np.einsum("bse,ef->bsf", out, wo) + bo


def operands(b=2, s=5, e=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((b, s, e), dtype=np.float32)
    params = []
    for _ in range(4):
        params.append((rng.standard_normal((e, e), dtype=np.float32) / np.float32(math.sqrt(e))))
        params.append(rng.standard_normal(e, dtype=np.float32) * np.float32(0.1))
    return [x, *params]


def test_it_is_registered():
    assert OPS["MultiHeadAttention"] is MultiHeadAttention


@pytest.mark.parametrize("heads", [1, 3, 4])
def test_it_matches_the_einsum_reference(heads):
    inputs = operands()
    (y,) = MultiHeadAttention.run(inputs, {"num_heads": heads})
    assert y.dtype == np.float32 and y.shape == (2, 5, 12)
    np.testing.assert_allclose(y, reference_attention(*inputs, heads=heads), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mask_shape", [(5, 5), (2, 1, 1, 5), (2, 3, 5, 5)])
def test_an_additive_mask_broadcasts_over_batch_and_heads(mask_shape):
    inputs = operands(seed=1)
    mask = np.random.default_rng(2).standard_normal(mask_shape).astype(np.float32)
    (y,) = MultiHeadAttention.run([*inputs, mask], {"num_heads": 3})
    np.testing.assert_allclose(y, reference_attention(*inputs, heads=3, mask=mask), rtol=1e-4, atol=1e-5)


def test_a_causal_mask_stops_a_token_from_seeing_later_ones():
    inputs = operands(seed=3)
    causal = np.triu(np.full((5, 5), -1e9, dtype=np.float32), k=1)
    (y,) = MultiHeadAttention.run([*inputs, causal], {"num_heads": 2})
    changed = [a.copy() for a in inputs]
    changed[0][:, -1] += 10.0  # only the last token changes
    (y2,) = MultiHeadAttention.run([*changed, causal], {"num_heads": 2})
    np.testing.assert_allclose(y[:, :-1], y2[:, :-1], rtol=1e-6)
    assert not np.allclose(y[:, -1], y2[:, -1])


def test_the_softmax_is_stable_for_huge_scores():
    inputs = operands(seed=4)
    inputs[0] = inputs[0] * np.float32(1e3)
    (y,) = MultiHeadAttention.run(inputs, {"num_heads": 4})
    assert np.isfinite(y).all()


def test_it_leaves_its_inputs_untouched():
    inputs = operands()
    copies = [a.copy() for a in inputs]
    MultiHeadAttention.run(inputs, {"num_heads": 4})
    for before, after in zip(copies, inputs):
        np.testing.assert_array_equal(before, after)


def test_flops_add_up_the_documented_terms():
    b, s, e, h = 32, 64, 512, 8
    shapes = [(b, s, e)] + [(e, e), (e,)] * 4
    projections = 4 * 2 * b * s * e * e + 4 * b * s * e
    attention = b * s * e + 2 * b * s * s * e + 5 * b * h * s * s + 2 * b * s * s * e
    assert MultiHeadAttention.flops(shapes, {"num_heads": h}) == projections + attention
    masked = MultiHeadAttention.flops([*shapes, (s, s)], {"num_heads": h})
    assert masked == projections + attention + b * h * s * s


def test_bytes_are_the_operands_and_the_output_not_the_scores():
    b, s, e = 2, 16, 32
    shapes = [(b, s, e)] + [(e, e), (e,)] * 4
    got = MultiHeadAttention.bytes(shapes, [(b, s, e)], ["float32"] * 10)
    assert got == 4 * (2 * b * s * e + 4 * (e * e + e))


@pytest.mark.parametrize(
    ("shapes", "attrs", "message"),
    [
        ([(2, 5, 12)] + [(12, 12), (12,)] * 4, {}, "attribute num_heads is required"),
        ([(2, 5, 12)] + [(12, 12), (12,)] * 4, {"num_heads": 5}, "num_heads 5 does not divide the embedding size 12"),
        ([(10, 12)] + [(12, 12), (12,)] * 4, {"num_heads": 2}, r"input 'x' has shape \(10, 12\) but must be 3-D"),
        ([(2, 5, 12), (12, 12), (12,), (12, 8), (12,)] + [(12, 12), (12,)] * 2, {"num_heads": 2},
         r"wk 'wk' has shape \(12, 8\) but input 'x' has shape \(2, 5, 12\), so it must be \(12, 12\)"),
        ([(2, 5, 12)] + [(12, 12), (12,)] * 4 + [(3, 5, 5)], {"num_heads": 2},
         r"mask 'mask' has shape \(3, 5, 5\), which does not broadcast to the scores' shape \(2, 2, 5, 5\)"),
    ],
)
def test_bad_shapes_and_attributes_are_explained(shapes, attrs, message):
    names = ("x", "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo", "mask")[: len(shapes)]
    with pytest.raises(ShapeError, match=message):
        MultiHeadAttention.infer_shape(shapes, attrs, names=names)


needs_numba = pytest.mark.skipif(not norm_kernels.AVAILABLE, reason="numba is not installed")


def test_long_sequences_run_in_blocks_of_query_rows(monkeypatch):
    monkeypatch.setattr(attention, "L2_SCORE_BYTES", 3 * 7 * 4 * 2)  # two query rows of 3 heads a block
    inputs = operands(b=2, s=7, e=12, seed=5)
    mask = np.random.default_rng(6).standard_normal((2, 1, 7, 7)).astype(np.float32)
    assert attention.score_blocks(0, 2, 3, 7)[:5] == [(0, 1, 0, 2), (0, 1, 2, 4), (0, 1, 4, 6), (0, 1, 6, 7),
                                                      (1, 2, 0, 2)]
    (y,) = MultiHeadAttention.run([*inputs, mask], {"num_heads": 3})
    np.testing.assert_allclose(y, reference_attention(*inputs, heads=3, mask=mask), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("lo", "hi", "heads", "s"), [(0, 64, 8, 64), (3, 10, 2, 100), (0, 2, 8, 1024)])
def test_score_blocks_cover_every_query_row_once_within_the_budget(lo, hi, heads, s):
    seen = np.zeros((hi, s), dtype=int)
    for b0, b1, r0, r1 in attention.score_blocks(lo, hi, heads, s):
        assert (b1 - b0) * heads * (r1 - r0) * s * 4 <= attention.L2_SCORE_BYTES
        seen[b0:b1, r0:r1] += 1
    assert (seen[lo:] == 1).all() and (seen[:lo] == 0).all()


def test_the_core_splits_batch_entries_over_two_threads(monkeypatch):
    inputs = operands(b=32, s=64, e=32, seed=7)  # 32 entries of 4 heads' 64 x 64 scores: 524k scores
    with two_thread_splits(monkeypatch, "engine.ops.attention.run_parts") as splits:
        (y,) = MultiHeadAttention.run(inputs, {"num_heads": 4})
    assert splits == [(32, 2)]
    np.testing.assert_allclose(y, reference_attention(*inputs, heads=4), rtol=1e-4, atol=1e-5)


def test_kernel_bytes_count_every_pass_over_the_intermediates_and_the_score_blocks():
    b, s, e, h = 2, 16, 32, 4
    shapes = [(b, s, e)] + [(e, e), (e,)] * 4
    minimum = MultiHeadAttention.bytes(shapes, [(b, s, e)], ["float32"] * 10)
    got = MultiHeadAttention.kernel_bytes(shapes, [(b, s, e)], ["float32"] * 10, {"num_heads": h})
    assert got == minimum + 4 * (18 * b * s * e + 10 * b * h * s * s)
    masked = MultiHeadAttention.kernel_bytes([*shapes, (s, s)], [(b, s, e)], ["float32"] * 11, {"num_heads": h})
    assert masked - MultiHeadAttention.bytes([*shapes, (s, s)], [(b, s, e)], ["float32"] * 11) == \
        4 * (18 * b * s * e + 12 * b * h * s * s)


@needs_numba
def test_the_compiled_softmax_matches_float64_numpy():
    x = np.random.default_rng(9).standard_normal((300, 77)).astype(np.float32) * 8
    out = np.empty_like(x)
    norm_kernels.softmax_rows(x, out, 0, x.shape[0])
    ref = np.exp(x.astype(np.float64) - x.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(out, ref / ref.sum(axis=-1, keepdims=True), rtol=1e-5, atol=1e-30)


@needs_numba
def test_the_compiled_softmax_keeps_numpy_s_nan_and_infinity_rules():
    inf, nan = np.inf, np.nan
    x = np.array([[0, -inf, 1, 2], [-inf] * 4, [nan, 0, 1, 2], [inf, 0, 1, 2], [-200, 0, -1, -3]], np.float32)
    out = np.full_like(x, 7.0)
    norm_kernels.softmax_rows(x, out, 1, 5)  # row 0 is left alone
    with np.errstate(invalid="ignore"):
        shifted = np.exp(x - x.max(axis=-1, keepdims=True))
        want = shifted / shifted.sum(axis=-1, keepdims=True)
    assert (out[0] == 7.0).all()
    np.testing.assert_allclose(out[1:], want[1:], rtol=1e-6, atol=1e-30)  # NaN rows compare equal
    norm_kernels.softmax_rows(x, x, 0, 1)  # in place
    np.testing.assert_allclose(x[0], want[0], rtol=1e-6, atol=0)
