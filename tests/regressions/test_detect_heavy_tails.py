import numpy as np

from regressions.changepoints import detect_changes


def test_it_raises_no_alert_on_long_flat_series_with_heavy_tailed_noise():
    rng = np.random.default_rng(50)
    alerts = []
    for _ in range(20):
        values = 1 + 0.01 * rng.standard_t(2, 500)  # infinite variance
        alerts += detect_changes(values)
    assert alerts == []


def test_it_raises_no_alert_on_flat_bimodal_noise():
    rng = np.random.default_rng(51)
    alerts = []
    for _ in range(20):
        slow = rng.random(300) < 0.3
        values = 1 + 0.005 * rng.standard_normal(300) + 0.02 * slow
        alerts += detect_changes(values)
    assert alerts == []


def test_it_calibrates_to_each_series_noise():
    rng = np.random.default_rng(52)
    quiet = 1 + 0.002 * rng.standard_normal(100)
    quiet[50:] *= 1.03
    loud = 1 + 0.05 * rng.standard_normal(100)
    loud[50:] *= 1.03
    assert [c.index for c in detect_changes(quiet)] == [50]
    assert detect_changes(loud) == []
