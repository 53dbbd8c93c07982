import numpy as np

from regressions.changepoints import MIN_REL_CHANGE, detect_changes


def series_with_step(step, seed=80):
    rng = np.random.default_rng(seed)
    values = 1 + 0.002 * rng.standard_normal(200)
    values[100:] *= 1 + step
    return values


def test_it_reports_a_small_but_clear_step_above_the_default_floor():
    assert [c.index for c in detect_changes(series_with_step(2.5 * MIN_REL_CHANGE))] == [100]


def test_it_drops_changes_below_the_floor_it_is_given():
    values = series_with_step(0.03)
    assert detect_changes(values, min_rel_change=0.05) == []
    assert [c.index for c in detect_changes(values, min_rel_change=0.02)] == [100]


def test_its_default_floor_hides_clear_but_tiny_steps():
    values = series_with_step(MIN_REL_CHANGE / 2)
    assert detect_changes(values) == []
    assert [c.index for c in detect_changes(values, min_rel_change=0)] == [100]
