import numpy as np
import pytest

from engine.quant.numeric import quantize_weight
from engine.quant.outlier import split_outliers


@pytest.fixture
def planted():
    rng = np.random.default_rng(9)
    w = rng.standard_normal((256, 128)).astype(np.float32) * 0.05
    idx = rng.choice(w.size, 20, replace=False)
    w.flat[idx] = rng.choice([-1.0, 1.0], 20) * rng.uniform(1.0, 4.0, 20)  # 20 to 80 sigma
    return w, idx


def test_main_times_scale_plus_outliers_reconstructs_w_within_half_a_step(planted):
    w, _ = planted
    split = split_outliers(w)
    err = np.abs(split.reconstruct() - w)
    assert np.all(err <= split.scale / 2 * (1 + 1e-6))
    assert split.weight.dtype == np.int8 and split.values.dtype == np.float32
    assert split.indices.dtype == np.int32 and split.indptr.dtype == np.int32


def test_the_planted_outliers_go_to_the_sparse_part_exactly(planted):
    w, idx = planted
    split = split_outliers(w)
    dense = split.outlier_matrix().toarray()
    assert np.array_equal(dense.flat[idx], w.flat[idx])  # exact, in fp32
    assert np.all(split.weight.flat[idx] == 0)  # and zero in W_main
    assert split.fraction <= 0.0015  # 99.9th percentile: about 0.1% kept aside


def test_the_split_is_more_accurate_than_plain_int8(planted):
    w, _ = planted
    split = split_outliers(w)
    per_tensor = quantize_weight(w, per_channel=False)
    plain = per_tensor[0].astype(np.float32) * per_tensor[1]
    assert np.abs(split.reconstruct() - w).max() < np.abs(plain - w).max() / 10


def test_percentile_100_keeps_no_outliers_and_bad_input_is_refused():
    w = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    assert split_outliers(w, percentile=100).values.size == 0
    with pytest.raises(ValueError, match=r"percentile must be a number in \(0, 100\]"):
        split_outliers(w, percentile=0)
    with pytest.raises(ValueError, match="must be a non-empty 2-D"):
        split_outliers(w.ravel())
    with pytest.raises(ValueError, match="NaN or inf"):
        split_outliers(np.full((2, 2), np.nan, np.float32))
