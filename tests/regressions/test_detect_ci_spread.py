"""Detection takes a point's within-run spread from its median's confidence
interval where the run measured one (window.within_run_spread), else from its
IQR: tight intervals let a small step through that wide ones call noise."""
import math

import numpy as np
import pytest

from fleet.models import Machine
from regressions.changepoints import detect_changes
from regressions.detection import detect_benchmark
from regressions.window import load_window, within_run_spread
from tests.regressions.history import history, ingest_all

STEP_LAYER, STEP, RUNS, STEP_FROM = "fc1", 1.08, 30, 20


def with_ci(reports: list[dict], half_width: float) -> list[dict]:
    """Every median's CI set to +-half_width (relative) around it."""
    for report in reports:
        for stats in [report["end_to_end"], *(layer["time"] for layer in report["layers"])]:
            stats["ci_low"], stats["ci_high"] = stats["median"] * (1 - half_width), stats["median"] * (1 + half_width)
    return reports


def test_a_ci_gives_the_iqr_normal_noise_would_have():
    # n repeats of normal noise with sigma 1: the median's 95% CI is +-1.96 * 1.2533 / sqrt(n), the IQR 1.349
    n = 25
    half = 1.959964 * math.sqrt(math.pi / 2) / math.sqrt(n)
    assert within_run_spread(0.0, 9.9, 10 - half, 10 + half, n) == pytest.approx(1.349, rel=1e-4)


def test_without_a_ci_the_spread_is_the_iqr():
    assert within_run_spread(0.97, 1.04, None, None, 20) == pytest.approx(0.07)
    assert within_run_spread(0.97, 1.04, 0.99, 1.01, None) == pytest.approx(0.07)  # no repeat count: no conversion


def test_the_spread_grows_with_the_interval():
    assert within_run_spread(1, 1, 0.99, 1.01, 20) < within_run_spread(1, 1, 0.9, 1.1, 20)


@pytest.mark.django_db
@pytest.mark.parametrize("half_width, flagged", [(0.002, True), (0.25, False)], ids=["tight CIs", "wide CIs"])
def test_tight_intervals_flag_a_small_step_that_wide_ones_call_noise(half_width, flagged):
    machine = Machine.objects.create(name="m1")
    reports = with_ci(history(RUNS, slow_from=STEP_FROM, slow={STEP_LAYER: STEP}, layers=6, fidelity=True),
                      half_width)
    runs = ingest_all(reports, machine)
    window = load_window(machine.pk, runs[0].benchmark_id, RUNS)
    spread = window.series[STEP_LAYER].spread
    median = np.median(window.series[STEP_LAYER].values)
    expected = 1.349 * math.sqrt(20) * 2 * half_width * median / (2 * 1.959964 * math.sqrt(math.pi / 2))
    assert np.median(spread) == pytest.approx(expected, rel=0.05)  # from the CIs, not the IQR

    alerts = detect_benchmark(machine.pk, runs[0].benchmark_id)
    assert (STEP_LAYER in {alert.layer for alert in alerts}) is flagged


@pytest.mark.django_db
def test_old_runs_without_intervals_use_the_iqr():
    machine = Machine.objects.create(name="m1")
    runs = ingest_all(history(12, layers=4), machine)
    series = load_window(machine.pk, runs[0].benchmark_id, 12).series["fc0"]
    layers = [run.layers.get(name="fc0") for run in runs]
    assert list(series.spread) == pytest.approx([layer.p75 - layer.p25 for layer in layers])
    assert detect_changes(series.values, spread=series.spread) == []
