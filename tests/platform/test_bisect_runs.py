"""A report's `purpose`: a bisection's run ("bisect") is stored with its layers
and shown by the run API, but no series takes it: no detection is queued, the
catalogue gains no points, series points skip it, and ci-check's count of a
commit's runs leaves it out."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.report import END_TO_END, PURPOSE_BISECT, Report
from regressions import receivers
from results.catalogue import refresh_all_series
from results.models import LayerMeasurement, Run, Series
from tests.report_factory import make_report, old_report

from .conftest import row_counts

START = datetime(2025, 3, 1, 8, tzinfo=timezone.utc)


def at(hours: int) -> str:
    return (START + timedelta(hours=hours)).isoformat()


@pytest.fixture
def queued(monkeypatch) -> list[tuple[int, int]]:
    """The (machine id, benchmark id) groups detection was queued for (the task itself is not run)."""
    groups: list[tuple[int, int]] = []
    monkeypatch.setattr(receivers.detect_series_group, "delay", lambda *group: groups.append(group))
    return groups


@pytest.fixture
def store(upload, queued, django_capture_on_commit_callbacks):
    """Upload a report, running its on-commit callbacks (run_ingested) as a real commit would."""

    def post(report: dict) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(report)
        assert response.status_code == 201, response.content
        return response.json()["id"]

    return post


def catalogue() -> dict[str, tuple]:
    return {s.layer: (s.points, s.first, s.last) for s in Series.objects.all()}


def test_a_bisect_run_is_stored_with_its_layers_and_queues_no_detection(store, queued, client):
    ordinary = store(make_report(started_at=at(0)))
    bisect = store(make_report(commit="old1", started_at=at(1), purpose=PURPOSE_BISECT))
    run = Run.objects.get(pk=bisect)
    assert run.purpose == "bisect" and run.is_bisect and Run.objects.get(pk=ordinary).purpose == ""
    assert LayerMeasurement.objects.filter(run=run).count() == 4  # the bisection reads them
    stored = Run.objects.get(pk=ordinary)
    assert queued == [(stored.machine_id, stored.benchmark_id)]  # once, for the ordinary run
    assert client.get(f"/api/v1/runs/{bisect}/").json()["purpose"] == "bisect"
    listed = {r["id"]: r["purpose"] for r in client.get("/api/v1/runs/").json()["results"]}
    assert listed == {ordinary: "", bisect: "bisect"}  # the run list still shows it


def test_a_bisect_run_adds_no_catalogue_points(store):
    store(make_report(started_at=at(0)))
    before = catalogue()
    assert before[END_TO_END][0] == 1
    bisect = store(make_report(commit="old1", started_at=at(5), purpose=PURPOSE_BISECT))
    assert catalogue() == before
    assert Run.objects.get(pk=bisect).catalogued  # counted, so the catalogue sweep leaves it alone
    refresh_all_series()
    assert catalogue() == before


def test_a_series_with_only_bisect_runs_is_not_in_the_catalogue(store, client):
    store(make_report(purpose=PURPOSE_BISECT))
    assert Series.objects.count() == 0
    refresh_all_series()
    assert Series.objects.count() == 0
    assert client.get("/api/v1/series/").json()["count"] == 0


def test_series_points_skip_bisect_runs(store, client):
    ordinary = [store(make_report(commit=f"c{i}", started_at=at(i))) for i in range(3)]
    store(make_report(commit="old1", started_at=at(10), purpose=PURPOSE_BISECT))
    benchmark = Run.objects.get(pk=ordinary[0]).benchmark_id
    for layer in (END_TO_END, "fc1"):
        points = client.get(f"/api/v1/series/m1/{benchmark}/{layer}/").json()["points"]
        assert [p["run"] for p in points] == ordinary, layer


def test_bisect_runs_among_the_newest_do_not_take_places_in_the_limit(store, client):
    ordinary = [store(make_report(commit=f"c{i}", started_at=at(i))) for i in range(5)]
    for hour in (10, 11, 12):
        store(make_report(commit=f"old{hour}", started_at=at(hour), purpose=PURPOSE_BISECT))
    benchmark = Run.objects.get(pk=ordinary[0]).benchmark_id
    for layer in (END_TO_END, "fc1"):
        points = client.get(f"/api/v1/series/m1/{benchmark}/{layer}/?limit=3").json()["points"]
        assert [p["run"] for p in points] == ordinary[2:], layer
        assert [p["commit"] for p in points] == ["c2", "c3", "c4"], layer


def test_an_unknown_purpose_is_a_400_naming_it(upload):
    response = upload(make_report(purpose="rebase"))
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"purpose": ["'rebase' is not one of '', 'bisect'."]}
    assert row_counts() == {"Project": 0, "Benchmark": 0, "Run": 0, "LayerMeasurement": 0}


def test_a_report_without_purpose_is_an_ordinary_run(store):
    report = old_report(make_report())
    report.pop("purpose")
    assert Report.from_dict(report).purpose == ""
    assert Run.objects.get(pk=store(report)).purpose == ""


def test_the_runs_of_a_commit_leave_bisect_runs_out(store, client):
    """ci-check counts /api/v1/runs/?commit=: a bisection's run there must not gate the commit."""
    store(make_report(commit="abc123", purpose=PURPOSE_BISECT))

    def count(**params) -> int:
        response = client.get("/api/v1/runs/", params)
        assert response.status_code == 200, response.content
        return response.json()["count"]

    assert count(commit="abc123") == 0
    assert count(commit="abc123", purpose="bisect") == count(commit="abc123", purpose="any") == 1
    ordinary = store(make_report(commit="abc123"))
    assert count(commit="abc123") == 1
    assert [r["id"] for r in client.get("/api/v1/runs/", {"commit": "abc123"}).json()["results"]] == [ordinary]
    assert count() == 2 and count(purpose="series") == 1 and count(purpose="bisect") == 1


def test_an_unknown_purpose_filter_is_a_400_naming_it(client, db):
    response = client.get("/api/v1/runs/", {"purpose": "old"})
    assert response.status_code == 400
    assert "purpose" in response.json()["errors"]
