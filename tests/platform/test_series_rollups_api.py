"""GET /api/v1/series/<machine>/<benchmark>/<layer>/ across the raw window's
start: the days before it come from the daily rollups (one point a day, no
run, `runs`), the rest from raw rows, and `resolution` says which is which."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fleet.models import Machine
from results.ingest import ingest_report
from results.models import Benchmark, LayerMeasurement
from results.retention import prune_layers
from tests.report_factory import make_report

pytestmark = pytest.mark.django_db

FIRST = datetime(2025, 3, 1, tzinfo=timezone.utc)
RAW_FROM = "2025-03-04T00:00:00Z"


@pytest.fixture
def pruned(db):
    """Two runs a day from March 1 to 6 (the first days' runs with a third layer,
    fc1, that the model later lost); retention run so the raw window starts
    on March 4. Layer fc0's medians are set by hand: day d, hour h -> d + h / 100."""
    machine = Machine.objects.create(name="m1")
    for day in range(6):
        for hour in (6, 18):
            when = FIRST + timedelta(days=day, hours=hour)
            run = ingest_report(make_report(layers=3 if day < 2 else 2, started_at=when), machine)[0]
            LayerMeasurement.objects.filter(run=run, name="fc0").update(median=day + 1 + hour / 100)
    result = prune_layers(2, now=datetime(2025, 3, 6, 12, tzinfo=timezone.utc))
    assert result.layers == 3 * 2 * 2 + 2 * 2  # March 1-3
    return machine


def get(client, layer="fc0", **params):
    response = client.get(f"/api/v1/series/m1/{Benchmark.objects.get().pk}/{layer}/", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_range_over_the_raw_windows_start_reads_rollups_before_it(client, pruned):
    body = get(client)
    assert body["resolution"] == [
        {"source": "daily", "from": None, "to": RAW_FROM},
        {"source": "raw", "from": RAW_FROM, "to": None},
    ]
    points = body["points"]
    assert [p["t"] for p in points[:4]] == [
        "2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z", "2025-03-04T06:00:00Z",
    ]
    assert len(points) == 3 + 6
    daily = points[0]
    assert (daily["run"], daily["commit"], daily["config_hash"], daily["runs"]) == (None, None, None, 2)
    assert daily["value"] == pytest.approx(1.12)  # median of 1.06 and 1.18
    assert (daily["p25"], daily["p75"]) == pytest.approx((1.09, 1.15))
    raw = points[3]
    assert raw["run"] is not None and "runs" not in raw and raw["value"] == pytest.approx(4.06)


def test_ranges_on_one_side_read_one_source(client, pruned):
    after = get(client, since="2025-03-05")
    assert after["resolution"] == [{"source": "raw", "from": "2025-03-05T00:00:00Z", "to": None}]
    assert len(after["points"]) == 4

    before = get(client, since="2025-03-02", until="2025-03-03T12:00:00Z")
    assert before["resolution"] == [
        {"source": "daily", "from": "2025-03-02T00:00:00Z", "to": "2025-03-03T12:00:00Z"}
    ]
    assert [p["t"] for p in before["points"]] == ["2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z"]


def test_the_limit_keeps_the_newest_points_raw_first(client, pruned):
    assert all(p["run"] for p in get(client, limit=6)["points"])
    points = get(client, limit=7)["points"]
    assert points[0]["t"] == "2025-03-03T00:00:00Z" and points[0]["run"] is None


def test_throughput_metrics_of_a_day_come_from_its_median(client, pruned):
    flops = LayerMeasurement.objects.filter(name="fc0").values_list("flops", flat=True).first()
    daily = get(client, metric="gflops")["points"][0]
    assert daily["value"] == pytest.approx(flops / 1.12 / 1e9)
    assert "p25" not in daily


def test_a_layer_with_only_rollups_left_is_still_served(client, pruned):
    body = get(client, layer="fc1")
    assert body["series"]["op"] == "Linear"
    assert [(p["t"], p["runs"]) for p in body["points"]] == [
        ("2025-03-01T00:00:00Z", 2), ("2025-03-02T00:00:00Z", 2)
    ]
    assert client.get(f"/api/v1/series/m1/{Benchmark.objects.get().pk}/nope/").status_code == 404


def test_end_to_end_stays_raw(client, pruned):
    body = get(client, layer="end_to_end")
    assert body["resolution"] == [{"source": "raw", "from": None, "to": None}]
    assert len(body["points"]) == 12 and all(p["run"] for p in body["points"])
