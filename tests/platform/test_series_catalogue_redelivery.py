"""A refresh_series task delivered again (acks_late redelivery, a retry after
a lost connection, a duplicate publish) never counts its run twice."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from engine.report import END_TO_END
from fleet.models import Machine
from results.catalogue import refresh_series_for_run
from results.ingest import ingest_report
from results.models import Run, Series
from results.tasks import refresh_series
from tests.report_factory import make_report

DAY1 = datetime(2025, 3, 1, 8, tzinfo=timezone.utc)
DAY2 = datetime(2025, 3, 2, 8, tzinfo=timezone.utc)


@pytest.fixture
def runs(db) -> list[int]:
    """Two stored runs of m1 whose catalogue tasks have not run yet."""
    machine = Machine.objects.create(name="m1")
    stored = [ingest_report(make_report(layers=2, started_at=day), machine)[0].pk for day in (DAY1, DAY2)]
    assert not Series.objects.exists()  # no on-commit callbacks outside a real commit here
    return stored


def points() -> dict[str, int]:
    return dict(Series.objects.values_list("layer", "points"))


def test_a_redelivered_task_adds_nothing(runs):
    assert refresh_series(runs[0]) == 3
    assert refresh_series(runs[0]) == 0
    assert refresh_series.delay(runs[0]).get() == 0
    assert points() == {END_TO_END: 1, "fc0": 1, "relu0": 1}


def test_each_run_counts_once_whatever_the_order_of_deliveries(runs):
    for run_id in (runs[1], runs[0], runs[1], runs[0]):
        refresh_series_for_run(run_id)
    assert points() == {END_TO_END: 2, "fc0": 2, "relu0": 2}
    assert set(Series.objects.values_list("first", "last")) == {(DAY1, DAY2)}


def test_the_flag_is_set_with_the_points(runs):
    assert not Run.objects.get(pk=runs[0]).catalogued
    refresh_series_for_run(runs[0])
    assert Run.objects.get(pk=runs[0]).catalogued
    assert not Run.objects.get(pk=runs[1]).catalogued


def test_a_failed_update_leaves_the_run_to_count_on_the_retry(runs, monkeypatch):
    import results.catalogue as catalogue

    def broken() -> str:
        return "INSERT INTO no_such_table VALUES (%s, %s, %s)"

    monkeypatch.setattr(catalogue, "_upsert_sql", broken)
    with pytest.raises(Exception):
        refresh_series_for_run(runs[0])
    assert not Run.objects.get(pk=runs[0]).catalogued  # rolled back with the failed upsert
    monkeypatch.undo()
    assert refresh_series_for_run(runs[0]) == 3
    assert points() == {END_TO_END: 1, "fc0": 1, "relu0": 1}
