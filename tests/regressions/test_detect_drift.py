import numpy as np

from regressions.changepoints import detect_changes


def test_it_reports_no_step_in_a_slow_drift():
    # 10% over 200 runs: a ramp, not a change that one commit caused
    alerts = 0
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        values = np.linspace(1.0, 1.10, 200) * (1 + 0.005 * rng.standard_normal(200))
        alerts += len(detect_changes(values))
    assert alerts == 0


def test_it_still_finds_a_step_on_top_of_a_drift():
    rng = np.random.default_rng(31)
    values = np.linspace(1.0, 1.05, 200) * (1 + 0.005 * rng.standard_normal(200))
    values[120:] *= 1.10
    assert [c.index for c in detect_changes(values)] == [120]
