"""regressions.drift: ramps and runs of small steps, never noise or a single step."""
import numpy as np
import pytest

from regressions.changepoints import detect_changes
from regressions.drift import detect_drifts


def noisy(seed: int, n: int = 200, sigma: float = 0.005) -> np.ndarray:
    return 1 + sigma * np.random.default_rng(seed).standard_normal(n)


def test_a_ramp_is_found_with_its_start_and_end():
    values = noisy(1)
    values[100:130] *= np.linspace(1.0, 1.08, 31)[1:]
    values[130:] *= 1.08
    [drift] = detect_drifts(values, min_rel_change=0.02)
    assert abs(drift.start - 100) <= 3 and abs(drift.end - 129) <= 3
    assert drift.start < drift.reached < drift.end
    assert 0.06 < drift.rel_change < 0.10 and drift.confidence > 0.99


def test_small_steps_that_add_up_are_one_drift():
    values = noisy(2)
    for at in (100, 108, 116, 124):  # 1.5% each: no step reaches 2%, together 6%
        values[at:] *= 1.015
    [drift] = detect_drifts(values, min_rel_change=0.02)
    assert 95 <= drift.start <= 105 and 119 <= drift.end <= 128 and drift.rel_change > 0.04


def test_a_ramp_that_is_still_going_is_found_at_the_end():
    values = noisy(3)
    values[175:] *= np.linspace(1.0, 1.06, 26)[1:]
    [drift] = detect_drifts(values, min_rel_change=0.02)
    assert abs(drift.start - 175) <= 3 and drift.end >= 196


@pytest.mark.parametrize("seed", range(20))
def test_flat_noise_has_no_drift(seed):
    rng = np.random.default_rng(seed)
    phi = 0.7 if seed % 2 else 0.0  # odd seeds: AR(1) noise
    noise = np.zeros(200)
    for i in range(1, 200):
        noise[i] = phi * noise[i - 1] + 0.005 * rng.standard_normal()
    assert detect_drifts(1 + noise, min_rel_change=0.02) == []


def test_a_single_step_is_a_step_not_a_drift():
    values = noisy(4)
    values[120:] *= 1.10
    assert [c.index for c in detect_changes(values, min_rel_change=0.02)] == [120]
    assert detect_drifts(values, min_rel_change=0.02) == []


def test_a_ramp_below_the_minimum_change_is_none():
    values = noisy(5, sigma=0.001)
    values[100:130] *= np.linspace(1.0, 1.015, 31)[1:]
    values[130:] *= 1.015
    assert detect_drifts(values, min_rel_change=0.02) == []


def test_step_changes_inside_a_ramp_are_listed_as_the_ramps():
    values = noisy(6, sigma=0.002)
    values[100:130] *= np.linspace(1.0, 1.12, 31)[1:]
    values[130:] *= 1.12
    changes = detect_changes(values, min_rel_change=0.02)
    [drift] = detect_drifts(values, min_rel_change=0.02, changes=changes)
    assert set(drift.steps) == {c.index for c in changes if drift.start <= c.index <= drift.end}


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match="min_rel_change"):
        detect_drifts([1.0] * 30, min_rel_change=0)
    with pytest.raises(ValueError, match="spread"):
        detect_drifts([1.0] * 30, spread=[0.1] * 29, min_rel_change=0.02)
    with pytest.raises(ValueError, match="values"):
        detect_drifts([[1.0]], min_rel_change=0.02)
    assert detect_drifts([1.0, float("nan")] * 5, min_rel_change=0.02) == []
