import numpy as np
import pytest

from regressions.changepoints import detect_changes, detect_changes_many


def test_it_gives_the_same_answers_as_one_series_at_a_time():
    rng = np.random.default_rng(90)
    series = [1 + 0.01 * rng.standard_normal(80) for _ in range(5)]
    series[2][40:] *= 1.2
    spreads = [np.full(80, 0.02)] * 5
    expected = [detect_changes(s, spread=sp) for s, sp in zip(series, spreads)]
    assert detect_changes_many(series, spreads=spreads) == expected
    assert [len(r) for r in expected] == [0, 0, 1, 0, 0]


def test_it_rejects_spreads_for_another_number_of_series():
    with pytest.raises(ValueError, match="spreads has 1 items but series has 2"):
        detect_changes_many([[1.0], [2.0]], spreads=[[0.1]])
