"""Detection reads raw layer rows only: a window reaching back past the raw
window has end-to-end points for every run (runs are kept) and layer points
for the runs whose rows are still there, never the daily rollups."""
from datetime import datetime, timedelta, timezone

import pytest

from fleet.models import Machine
from regressions.detection import detect_benchmark
from regressions.models import Alert
from regressions.window import load_window
from results.models import DailyRollup, LayerMeasurement
from results.retention import prune_layers
from tests.regressions.history import history, ingest_all

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


def test_the_window_and_detection_never_read_rollups():
    reports = history(24, layers=4)
    for day, report in enumerate(reports):  # one run a day
        report["started_at"] = (START + timedelta(days=day)).isoformat()
    machine = Machine.objects.create(name="m1")
    runs = ingest_all(reports, machine)
    prune_layers(12, now=START + timedelta(days=23, hours=6))  # raw rows from day 11 on
    kept = [run.pk for run in runs if LayerMeasurement.objects.filter(run=run).exists()]
    assert len(kept) == 13
    # Rollups that, were they read, would be a step of orders of magnitude in fc1 at the raw window's start.
    assert DailyRollup.objects.filter(layer="fc1").update(median=1.0) == 11

    window = load_window(machine.pk, runs[0].benchmark_id, 30)
    assert window.run_ids == [run.pk for run in runs]
    assert len(window.series["end_to_end"].values) == 24
    fc1 = window.series["fc1"]
    assert [window.run_ids[i] for i in fc1.positions] == kept
    raw = dict(LayerMeasurement.objects.filter(name="fc1").values_list("run_id", "median"))
    assert list(fc1.values) == [raw[pk] for pk in kept]

    assert detect_benchmark(machine.pk, runs[0].benchmark_id) == []
    assert not Alert.objects.exists()
