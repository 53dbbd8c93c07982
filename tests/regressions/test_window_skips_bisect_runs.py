"""A bisection's runs (purpose "bisect", at old commits) never enter a detection
window: a slow one after a steady history files no alert."""
from datetime import timedelta

import pytest

from engine.report import PURPOSE_BISECT
from fleet.models import Machine
from regressions.detection import detect_benchmark
from regressions.models import Alert
from regressions.window import load_window
from tests.regressions.history import START, history, ingest_all, scale_layer

pytestmark = pytest.mark.django_db


def test_load_window_and_detection_skip_bisect_runs():
    machine = Machine.objects.create(name="m1")
    runs = ingest_all(history(12, layers=4), machine)
    bisects = history(6, layers=4, start=START + timedelta(days=1), commit_prefix="old", purpose=PURPOSE_BISECT)
    for report in bisects:
        scale_layer(report, "fc1", 3.0)
    ingest_all(bisects, machine)
    window = load_window(machine.pk, runs[0].benchmark_id, 30)
    assert window.run_ids == [run.pk for run in runs]
    assert len(window.series["fc1"].values) == len(runs)
    assert detect_benchmark(machine.pk, runs[0].benchmark_id) == []
    assert Alert.objects.count() == 0
