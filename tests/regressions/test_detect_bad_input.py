import math

import numpy as np
import pytest

from regressions.changepoints import detect_changes


@pytest.mark.parametrize(
    "values",
    [[], [1.0], [1.0, 2.0], [5.0] * 100, [math.nan] * 50, [math.inf, -math.inf, math.nan], [0.0] * 30],
    ids=["empty", "one point", "two points", "constant", "all nan", "all non-finite", "all zero"],
)
def test_it_returns_no_change_for_degenerate_series(values):
    assert detect_changes(values) == []


def test_it_skips_nan_and_inf_but_reports_indices_of_the_input():
    rng = np.random.default_rng(70)
    values = 1 + 0.01 * rng.standard_normal(100)
    values[60:] *= 1.2
    values[[5, 30, 59]] = [math.nan, math.inf, -math.inf]
    (change,) = detect_changes(values)
    assert change.index == 60
    assert math.isfinite(change.before) and math.isfinite(change.after)


def test_it_accepts_any_sequence_of_numbers():
    values = tuple([1] * 20 + [2] * 20)
    assert [c.index for c in detect_changes(values)] == [20]


def test_a_step_up_from_zero_has_infinite_rel_change():
    (change,) = detect_changes([0.0] * 20 + [1.0] * 20)
    assert change.index == 20 and change.rel_change == math.inf


@pytest.mark.parametrize(
    "values, message",
    [
        ([[1.0, 2.0], [3.0, 4.0]], "values must be one-dimensional"),
        (["fast", "slow"], "values must be a sequence of numbers"),
        (5.0, "values must be one-dimensional"),
    ],
)
def test_it_names_what_is_wrong_with_values_that_are_not_a_series(values, message):
    with pytest.raises(ValueError, match=message):
        detect_changes(values)


def test_it_rejects_a_negative_min_rel_change():
    with pytest.raises(ValueError, match="min_rel_change must be a number >= 0"):
        detect_changes([1.0] * 10, min_rel_change=-0.1)


def test_it_treats_none_as_a_missing_value():
    values = [1.0] * 10 + [None] + [2.0] * 10
    assert [c.index for c in detect_changes(values, spread=[None] * 21)] == [11]
