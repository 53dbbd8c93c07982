"""Noise that persists from one run to the next (AR(1), a slow wander): no
change is invented from it, and real steps are still found."""

import numpy as np

from regressions.changepoints import detect_changes


def ar1(rng, phi, sigma, n):
    out = np.empty(n)
    acc = sigma * rng.standard_normal()
    for i in range(n):
        acc = phi * acc + sigma * np.sqrt(1 - phi * phi) * rng.standard_normal()
        out[i] = acc
    return out


def test_it_raises_no_alert_on_ar1_noise_without_a_change():
    rng = np.random.default_rng(220)
    alerts = []
    for _ in range(30):
        alerts += detect_changes(1 + ar1(rng, 0.7, 0.007, 200))
    assert alerts == []


def test_it_raises_no_alert_on_a_slow_wander_without_a_change():
    rng = np.random.default_rng(221)
    alerts = []
    for _ in range(30):
        noise = ar1(rng, 0.95, 0.005, 200) + 0.005 * rng.standard_normal(200)
        alerts += detect_changes(1 + noise)
    assert alerts == []


def test_it_finds_a_5_percent_step_in_ar1_noise():
    rng = np.random.default_rng(222)
    for _ in range(10):
        values = 1 + ar1(rng, 0.7, 0.007, 200)
        values[120:] *= 1.05
        found = detect_changes(values)
        assert len(found) == 1
        assert abs(found[0].index - 120) <= 2
        assert found[0].rel_change > 0.03


def test_it_finds_a_large_step_three_runs_before_the_end_of_ar1_noise():
    rng = np.random.default_rng(223)
    values = 1 + ar1(rng, 0.7, 0.01, 100)
    values[97:] *= 1.2
    assert [c.index for c in detect_changes(values)] == [97]


def test_independent_noise_is_judged_as_before():
    # a 2% step at sigma 0.5%: the dependence model must not dull it
    rng = np.random.default_rng(224)
    values = 1 + 0.005 * rng.standard_normal(200)
    values[80:] *= 1.02
    assert [c.index for c in detect_changes(values)] == [80]
