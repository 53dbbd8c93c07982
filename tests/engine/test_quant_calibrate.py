import numpy as np
import pytest

from engine.quant.calibrate import (
    METHODS, NUM_BINS, CalibrationError, HistogramCollector, calibrate, kl_amax,
)


@pytest.fixture
def gaussian_with_outliers():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(200_000).astype(np.float32)
    x[rng.choice(x.size, 5, replace=False)] = [40.0, -35.0, 30.0, 38.0, -50.0]
    return x


def test_methods_are_listed():
    assert METHODS == ("minmax", "percentile", "kl")


def test_minmax_is_the_exact_max_abs(gaussian_with_outliers):
    assert calibrate([gaussian_with_outliers], "minmax") == 50.0


def test_percentile_ignores_a_handful_of_outliers(gaussian_with_outliers):
    x = gaussian_with_outliers
    amax = calibrate([x], "percentile")  # 99.99: 20 of 200k values may lie beyond
    true = np.percentile(np.abs(x), 99.99)
    bin_width = 50.0 / NUM_BINS
    assert true <= amax <= true + bin_width
    assert calibrate([x], "percentile", percentile=99.0) < amax


def test_kl_clips_far_below_the_max_on_a_gaussian(gaussian_with_outliers):
    amax = calibrate([gaussian_with_outliers], "kl")
    assert 2.5 < amax < 6.0  # a few sigma, far below the planted 50


def test_kl_matches_a_loop_port_of_tensorrt_on_a_small_histogram():
    rng = np.random.default_rng(3)
    hist = np.histogram(np.abs(rng.laplace(size=50_000)), bins=256, range=(0, 8))[0]
    edges = np.linspace(0, 8, 257)
    expected = _tensorrt_entropy(hist, edges, target=16, start=16)
    # 16 target bins: kl_amax with bits=5 signed -> 1 << 4
    assert kl_amax(hist, edges, bits=5, start_bin=16) == expected


def _tensorrt_entropy(hist, edges, target, start):
    """pytorch-quantization _compute_amax_entropy, loops as written there."""
    from collections import Counter
    from scipy.stats import entropy
    bins = hist.astype(np.float64).copy()
    bins[0] = bins[1]
    divergences = []
    for i in range(start, len(bins) + 1):
        space = np.linspace(0, i, num=target + 1)
        digitized = np.digitize(range(i), space) - 1
        digitized[bins[:i] == 0] = -1
        counts = np.zeros(target)
        for idx, d in enumerate(digitized):
            if d != -1:
                counts[d] += bins[idx]
        for key, val in Counter(digitized).items():
            if key != -1:
                counts[key] /= val
        q = np.array([counts[d] if d != -1 else 0.0 for d in digitized])
        p = bins[:i].copy()
        p[-1] += bins[i:].sum()
        divergences.append(entropy(p, q))
    divergences = np.array(divergences)
    last_argmin = len(divergences) - 1 - np.argmin(divergences[::-1])
    return float(edges[last_argmin + start])


def test_unsigned_kl_uses_256_target_bins_and_keeps_a_wider_range():
    rng = np.random.default_rng(5)
    x = np.maximum(rng.standard_normal(200_000), 0)
    signed, unsigned = calibrate([x], "kl"), calibrate([x], "kl", unsigned=True)
    assert unsigned >= signed


def test_the_histogram_range_doubles_and_rebins_without_splitting_counts():
    c = HistogramCollector()
    c.collect(np.linspace(0, 1, 1000))
    first = c.hist.copy()
    assert c.range == 1.0
    c.collect(np.array([3.5]))  # needs range * 4
    assert c.range == 4.0 and c.hist.sum() == 1001 and c.hist.size == NUM_BINS
    np.testing.assert_array_equal(c.hist[:NUM_BINS // 4], first.reshape(-1, 4).sum(axis=1))
    assert c.hist[int(3.5 / 4.0 * NUM_BINS)] == 1
    # the same histogram as one pass over the final range, except that the first
    # batch's max (1.0) sat in its histogram's closed last bin, so it stays in bin 511
    values = np.concatenate([np.linspace(0, 1, 1000)[:-1], [3.5]])
    direct = np.bincount((values * NUM_BINS / 4.0).astype(int), minlength=NUM_BINS)
    direct[NUM_BINS // 4 - 1] += 1
    np.testing.assert_array_equal(c.hist, direct)
    assert c.max == 3.5


def test_growth_across_batches_gives_the_same_amax_as_one_batch(gaussian_with_outliers):
    x = gaussian_with_outliers
    small_first = sorted(np.array_split(x, 10), key=lambda b: np.abs(b).max())
    assert calibrate(small_first, "minmax") == calibrate([x], "minmax")
    assert calibrate(small_first, "percentile") == pytest.approx(calibrate([x], "percentile"), rel=0.02)


def test_zeros_before_the_first_nonzero_batch_are_counted():
    c = HistogramCollector()
    c.collect(np.zeros(10))
    c.collect(np.ones(10))
    assert c.hist[0] == 10 and c.hist.sum() == 20
    z = HistogramCollector()
    z.collect(np.zeros(5))
    assert all(z.amax(m) == 0.0 for m in METHODS)


def test_empty_data_is_a_clear_error():
    with pytest.raises(CalibrationError, match="no calibration data"):
        calibrate([], "kl")
    with pytest.raises(CalibrationError, match="batch #0 is empty"):
        calibrate([np.array([], np.float32)], "minmax")


def test_no_finite_values_is_a_clear_error():
    with pytest.raises(CalibrationError, match=r"no finite values in 2 calibration batch\(es\) \(4 NaN/inf"):
        calibrate([np.array([np.nan, np.inf]), np.array([-np.inf, np.nan])], "percentile")


def test_nan_values_are_skipped_when_finite_ones_exist():
    assert calibrate([np.array([np.nan, 2.0, -3.0])], "minmax") == 3.0


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(CalibrationError, match="unknown calibration method 'mse'; valid methods: minmax, percentile, kl"):
        calibrate([np.ones(3)], "mse")
    assert issubclass(CalibrationError, ValueError)


def test_bad_percentile_is_refused():
    with pytest.raises(CalibrationError, match=r"percentile must be a number in \(0, 100\]"):
        calibrate([np.ones(3) * np.arange(3)], "percentile", percentile=150)


def test_no_method_answers_past_the_largest_value_seen():
    c = HistogramCollector()
    c.collect(np.linspace(0, 1, 5000))
    c.collect(np.array([1.3]))  # the range doubles to 2.0; the data stops at 1.3
    assert c.range == 2.0
    assert all(c.amax(m, percentile=100) <= 1.3 for m in METHODS)
