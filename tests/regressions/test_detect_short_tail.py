import numpy as np
import pytest

from regressions.changepoints import detect_changes


@pytest.mark.parametrize("points_after", [3, 4, 5])
def test_it_finds_a_large_step_with_only_a_few_points_after_it(points_after):
    rng = np.random.default_rng(40 + points_after)
    values = 1 + 0.01 * rng.standard_normal(100)
    values[100 - points_after :] *= 1.25
    (change,) = detect_changes(values)
    assert change.index == 100 - points_after
    assert change.rel_change > 0.2


def test_it_waits_for_a_third_point_before_calling_a_change():
    rng = np.random.default_rng(44)
    values = 1 + 0.01 * rng.standard_normal(100)
    values[98:] *= 1.25
    assert detect_changes(values) == []
