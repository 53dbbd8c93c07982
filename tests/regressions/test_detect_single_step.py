import numpy as np

from regressions.changepoints import Change, detect_changes


def noisy(n, seed, sigma=0.01):
    return 1.0 + sigma * np.random.default_rng(seed).standard_normal(n)


def test_it_finds_one_clear_step_at_its_first_point():
    values = noisy(120, seed=1)
    values[70:] *= 1.10
    (change,) = detect_changes(values)
    assert isinstance(change, Change)
    assert change.index == 70
    assert abs(change.before - 1.0) < 0.01
    assert abs(change.after - 1.10) < 0.01
    assert abs(change.rel_change - 0.10) < 0.015
    assert 0.99 < change.confidence <= 1.0


def test_it_reports_a_slowdown_with_positive_and_a_speedup_with_negative_rel_change():
    slower = noisy(80, seed=2)
    slower[40:] *= 1.2
    faster = noisy(80, seed=3)
    faster[40:] *= 0.8
    (up,) = detect_changes(slower)
    (down,) = detect_changes(faster)
    assert up.rel_change > 0.15 and up.after > up.before
    assert down.rel_change < -0.15 and down.after < down.before


def test_its_rel_change_is_after_over_before_minus_one():
    values = noisy(60, seed=4)
    values[30:] *= 1.5
    (change,) = detect_changes(values)
    assert change.rel_change == change.after / change.before - 1


def test_change_is_frozen():
    change = Change(index=1, before=1.0, after=2.0, rel_change=1.0, confidence=0.9)
    try:
        change.index = 2
    except AttributeError:
        return
    raise AssertionError("Change should be immutable")
