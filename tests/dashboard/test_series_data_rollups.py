"""/dash-api/series/ over the raw window's start: the daily rollups before it
come through as points without a run, `resolution` says where raw rows begin,
and the configs list leaves the daily points out."""
from datetime import datetime, timedelta, timezone

import pytest

from fleet.models import Machine
from results.catalogue import refresh_all_series
from results.ingest import ingest_report
from results.retention import prune_layers
from tests.report_factory import make_report

FIRST = datetime(2025, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def benchmark_id(db) -> int:
    machine = Machine.objects.create(name="m1")
    for day in range(6):
        run = ingest_report(make_report(layers=2, started_at=FIRST + timedelta(days=day, hours=6)), machine)[0]
    refresh_all_series()
    prune_layers(2, now=datetime(2025, 3, 6, 12, tzinfo=timezone.utc))
    return run.benchmark_id


def test_daily_points_and_the_raw_windows_start_reach_the_page(client, benchmark_id):
    body = client.get("/dash-api/series/", {"benchmark": benchmark_id, "layer": "fc0"}).json()
    assert body["resolution"][0] == {"source": "daily", "from": None, "to": "2025-03-04T00:00:00Z"}
    (machine,) = body["machines"]
    assert [p["run"] is None for p in machine["points"]] == [True] * 3 + [False] * 3
    assert machine["total"] == 6
    assert None not in body["configs"] and len(body["configs"]) == 1
