"""Series of a layer whose work is unknown (onnxruntime, `work_unknown`): its
time metrics have a point per run; gflops, gbs, ai, flops and bytes skip the
runs where it is null (raw rows and daily rollups alike), and a day of such
rows rolls up (in SQL on PostgreSQL, in Python on SQLite) with null work."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fleet.models import Machine
from results.ingest import ingest_report
from results.models import DailyRollup, LayerMeasurement
from results.rollups import roll_up_day, seal_day
from tests.backend_reports import report

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 4, 9, tzinfo=timezone.utc)
WORK_METRICS = ("gflops", "gbs", "ai", "flops", "bytes")


@pytest.fixture
def runs():
    machine = Machine.objects.create(name="m1")
    return [ingest_report(report("din_small_ort", started_at=(START + timedelta(hours=h)).isoformat()), machine)[0]
            for h in range(3)]


def _names(runs):
    rows = LayerMeasurement.objects.filter(run=runs[0])
    unknown = rows.filter(work_unknown__isnull=False).values_list("name", flat=True).first()
    known = rows.filter(work_unknown__isnull=True, flops__gt=0).values_list("name", flat=True).first()
    return unknown, known


def _points(client, run, layer, metric):
    response = client.get(f"/api/v1/series/m1/{run.benchmark_id}/{layer}/?metric={metric}")
    assert response.status_code == 200, response.content
    return response.json()["points"]


def test_work_metrics_skip_runs_of_unknown_work_and_time_metrics_keep_them(client, runs):
    unknown, known = _names(runs)
    assert len(_points(client, runs[0], unknown, "median")) == 3
    for metric in WORK_METRICS:
        assert _points(client, runs[0], unknown, metric) == []
        assert [p["value"] is not None for p in _points(client, runs[0], known, metric)] == [True] * 3


def test_a_day_of_unknown_work_rolls_up_with_null_work_and_no_daily_work_points(client, runs):
    unknown, known = _names(runs)
    assert roll_up_day(START.date()) > 0
    day = DailyRollup.objects.get(layer=unknown)
    assert (day.flops, day.bytes, day.n) == (None, None, 3)
    assert DailyRollup.objects.get(layer=known).flops > 0
    seal_day(START.date())
    LayerMeasurement.objects.all().delete()  # as retention would: the series reads the day's rollup now
    assert [p["runs"] for p in _points(client, runs[0], unknown, "median")] == [3]
    assert _points(client, runs[0], unknown, "gflops") == []
    assert [p["runs"] for p in _points(client, runs[0], known, "gflops")] == [3]
