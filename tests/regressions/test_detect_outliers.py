import numpy as np

from regressions.changepoints import detect_changes


def flat(n, seed):
    return 1 + 0.01 * np.random.default_rng(seed).standard_normal(n)


def test_it_ignores_one_slow_run():
    values = flat(100, seed=21)
    values[50] = 3.0
    assert detect_changes(values) == []


def test_it_ignores_two_slow_runs_in_a_row():
    values = flat(100, seed=22)
    values[40:42] = 2.0
    assert detect_changes(values) == []


def test_it_ignores_a_slow_last_run():
    values = flat(100, seed=23)
    values[-1] = 2.0
    assert detect_changes(values) == []


def test_it_is_not_moved_off_a_real_step_by_outliers_around_it():
    values = flat(100, seed=24)
    values[60:] *= 1.2
    values[[10, 58, 75]] = 5.0
    (change,) = detect_changes(values)
    assert change.index == 60
    assert abs(change.rel_change - 0.2) < 0.03
