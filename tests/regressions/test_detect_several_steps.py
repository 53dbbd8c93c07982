import numpy as np

from regressions.changepoints import detect_changes


def test_it_finds_every_step_of_a_staircase_with_ups_and_downs():
    rng = np.random.default_rng(11)
    level = np.ones(200)
    level[50:] *= 1.08
    level[90:] *= 0.85
    level[140:] *= 1.30
    values = level * (1 + 0.008 * rng.standard_normal(200))
    changes = detect_changes(values)
    assert [c.index for c in changes] == [50, 90, 140]
    assert [np.sign(c.rel_change) for c in changes] == [1, -1, 1]


def test_it_finds_a_short_excursion_that_comes_back():
    rng = np.random.default_rng(12)
    values = 1 + 0.005 * rng.standard_normal(150)
    values[60:72] *= 1.15
    assert [c.index for c in detect_changes(values)] == [60, 72]


def test_it_finds_many_alternating_steps_in_a_long_series():
    rng = np.random.default_rng(13)
    positions = list(range(60, 1000, 70))
    level = np.ones(1000)
    for i, pos in enumerate(positions):
        level[pos:] *= 1.1 if i % 2 == 0 else 0.93
    values = level * (1 + 0.01 * rng.standard_normal(1000))
    assert [c.index for c in detect_changes(values)] == positions
