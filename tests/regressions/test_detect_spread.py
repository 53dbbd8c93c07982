import numpy as np
import pytest

from regressions.changepoints import detect_changes


def test_it_takes_the_within_run_spread_as_a_noise_floor():
    # quantized medians look noiseless; the runs' own spread says a 3% move is noise
    values = [1.0] * 10 + [1.03] * 10
    assert [c.index for c in detect_changes(values)] == [10]
    assert detect_changes(values, spread=[0.3] * 20) == []


def test_it_ignores_a_spread_that_is_small_next_to_the_noise():
    rng = np.random.default_rng(60)
    values = 1 + 0.01 * rng.standard_normal(100)
    values[50:] *= 1.1
    tiny = np.full(100, 1e-4)
    assert detect_changes(values, spread=tiny) == detect_changes(values)


def test_it_ignores_missing_spreads():
    values = [1.0] * 10 + [1.5] * 10
    spread = [float("nan")] * 20
    assert [c.index for c in detect_changes(values, spread=spread)] == [10]


def test_it_rejects_a_spread_of_another_length():
    with pytest.raises(ValueError, match="spread has 3 items but values has 4"):
        detect_changes([1.0, 2.0, 3.0, 4.0], spread=[1.0, 1.0, 1.0])
