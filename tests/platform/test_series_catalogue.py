"""The series catalogue (results.models.Series): filled after each ingest by the
refresh_series task (eager in tests), one run at a time and never twice for a
run, rebuilt after retention, and backfilled by migrations 0005 and 0006."""
from __future__ import annotations

import importlib
from datetime import datetime, timedelta, timezone

import pytest
from django.apps import apps

from engine.report import END_TO_END
from fleet.models import Machine
from results.catalogue import refresh_all_series, refresh_series_for_run
from results.models import LayerMeasurement, Run, Series
from results.retention import prune_layers
from results.tasks import refresh_series
from tests.report_factory import make_report

backfill_migration = importlib.import_module("results.migrations.0005_backfill_series")


def day(number: int) -> datetime:
    return datetime(2025, 3, number, 8, tzinfo=timezone.utc)


@pytest.fixture
def upload(upload, django_capture_on_commit_callbacks):
    """The ingest fixture, running its on-commit callbacks as a real commit
    would: run_ingested, whose receiver queues refresh_series (eager here)."""

    def post(report, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(report, **kwargs)
        assert response.status_code in (200, 201), response.content
        return response.json()["id"]

    return post


def catalogue() -> dict[tuple[str, str], tuple]:
    """{(machine, layer): (op, index, first, last, points)} of every Series row."""
    return {
        (s.machine.name, s.layer): (s.op, s.index, s.first, s.last, s.points)
        for s in Series.objects.select_related("machine")
    }


def all_rows() -> list[tuple]:
    """Every Series row with its machine and benchmark, in a fixed order."""
    return sorted(Series.objects.values_list(
        "machine_id", "benchmark_id", "layer", "op", "index", "first", "last", "points"
    ), key=repr)


def test_an_ingest_fills_the_catalogue_with_first_last_and_points(upload):
    upload(make_report(layers=3, started_at=day(2)))
    upload(make_report(layers=3, started_at=day(1)))
    assert catalogue() == {
        ("m1", END_TO_END): ("", None, day(1), day(2), 2),
        ("m1", "fc0"): ("Linear", 0, day(1), day(2), 2),
        ("m1", "relu0"): ("Relu", 1, day(1), day(2), 2),
        ("m1", "fc1"): ("Linear", 2, day(1), day(2), 2),
    }


def test_a_replay_does_not_count_twice(upload):
    report = make_report(layers=2, started_at=day(1))
    run_id = upload(report)
    assert upload(report) == run_id
    refresh_series_for_run(run_id)  # a redelivered task
    assert {key: row[-1] for key, row in catalogue().items()} == {("m1", END_TO_END): 1, ("m1", "fc0"): 1,
                                                                  ("m1", "relu0"): 1}


def test_a_later_run_moves_last_and_adds_a_point_and_new_layers(upload):
    upload(make_report(layers=2, started_at=day(1)))
    upload(make_report(layers=3, started_at=day(5)))
    rows = catalogue()
    assert rows[("m1", END_TO_END)] == ("", None, day(1), day(5), 2)
    assert rows[("m1", "relu0")] == ("Relu", 1, day(1), day(5), 2)
    assert rows[("m1", "fc1")] == ("Linear", 2, day(5), day(5), 1)


def test_series_of_other_machines_and_models_are_kept_apart(upload, db):
    upload(make_report(layers=1, started_at=day(1)))
    upload(make_report(layers=1, model="dlrm", started_at=day(2)))
    other = Machine.objects.create(name="m2").rotate_token()
    upload(make_report(fingerprint="fp-2", layers=1, started_at=day(3)), token=other)
    points = {(s.machine.name, s.benchmark.model, s.layer): s.points for s in Series.objects.select_related(
        "machine", "benchmark")}
    assert points == {
        ("m1", "mlp", END_TO_END): 1, ("m1", "mlp", "fc0"): 1, ("m1", "dlrm", END_TO_END): 1,
        ("m1", "dlrm", "fc0"): 1, ("m2", "mlp", END_TO_END): 1, ("m2", "mlp", "fc0"): 1,
    }


def forget_catalogue() -> None:
    """As if no refresh task had run yet."""
    Series.objects.all().delete()
    Run.objects.update(catalogued=False)


def test_refreshing_twice_and_out_of_order_gives_the_same_rows(upload):
    runs = [upload(make_report(layers=3, started_at=day(d))) for d in (3, 1, 2)]
    before = catalogue()
    forget_catalogue()
    for run_id in reversed(runs):
        assert refresh_series_for_run(run_id) == 4  # end_to_end and 3 layers
    assert refresh_series_for_run(runs[0]) == 0  # a redelivery adds nothing
    assert catalogue() == before
    assert Series.objects.count() == 4


def test_the_task_refreshes_through_celery(upload, db):
    run_id = upload(make_report(layers=2, started_at=day(1)))
    forget_catalogue()
    assert refresh_series.delay(run_id).get() == 3
    assert catalogue()[("m1", "fc0")] == ("Linear", 0, day(1), day(1), 1)


def test_an_unknown_run_refreshes_nothing(db):
    assert refresh_series_for_run(987654) == 0
    assert not Series.objects.exists()


def test_a_deleted_run_leaves_the_catalogue_as_it_was(upload):
    run_id = upload(make_report(layers=1, started_at=day(1)))
    before = catalogue()
    Run.objects.filter(pk=run_id).delete()
    assert refresh_series_for_run(run_id) == 0
    assert catalogue() == before


def test_pruning_layers_keeps_every_series_and_its_run_count(upload):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    old, new = now - timedelta(days=60), now - timedelta(days=1)
    upload(make_report(layers=3, started_at=old))
    upload(make_report(layers=2, started_at=new))
    before = catalogue()

    result = prune_layers(30)

    assert result.layers == 3
    assert catalogue() == before  # the pruned days live on in the daily rollups
    assert before[("m1", "fc1")] == ("Linear", 2, old, old, 1)  # only in the pruned run: still listed
    assert before[("m1", "fc0")] == ("Linear", 0, old, new, 2)

    # A rebuild counts the rollups for the days before the raw window: the same catalogue.
    assert refresh_all_series() == 4
    assert catalogue() == before


def test_a_dry_run_prune_leaves_the_catalogue_alone(upload):
    upload(make_report(layers=2, started_at=datetime.now(timezone.utc) - timedelta(days=60)))
    before = catalogue()
    prune_layers(30, dry_run=True)
    assert catalogue() == before


def test_refresh_all_removes_series_without_points(upload):
    upload(make_report(layers=2, started_at=day(1)))
    LayerMeasurement.objects.filter(name="relu0").delete()
    assert refresh_all_series() == 2
    assert set(catalogue()) == {("m1", END_TO_END), ("m1", "fc0")}


def test_the_backfill_migration_gives_the_rows_refresh_gives(upload, db):
    upload(make_report(layers=3, started_at=day(2)))
    upload(make_report(layers=4, started_at=day(1), model="dlrm"))
    upload(make_report(layers=2, started_at=day(3)))
    other = Machine.objects.create(name="m2").rotate_token()
    upload(make_report(fingerprint="fp-2", layers=1, started_at=day(4)), token=other)
    refreshed = all_rows()
    assert len(refreshed) == 11  # mlp on m1: 1 + 3, dlrm: 1 + 4, mlp on m2: 1 + 1

    Series.objects.all().delete()
    backfill_migration.backfill_series(apps, None)
    assert all_rows() == refreshed

    backfill_migration.delete_series(apps, None)
    assert not Series.objects.exists()


def test_a_rebuild_counts_the_runs_whose_task_was_lost(upload):
    upload(make_report(layers=2, started_at=day(1)))
    lost = upload(make_report(layers=3, started_at=day(2)))
    Run.objects.filter(pk=lost).update(catalogued=False)  # as if its task had never run
    Series.objects.filter(layer="fc1").delete()
    Series.objects.update(points=1, last=day(1))

    assert refresh_all_series() == 4
    assert catalogue()[("m1", END_TO_END)] == ("", None, day(1), day(2), 2)
    assert catalogue()[("m1", "fc1")] == ("Linear", 2, day(2), day(2), 1)
    assert Run.objects.get(pk=lost).catalogued
    assert refresh_series_for_run(lost) == 0  # the late task finds it counted


def test_the_refresh_series_command_rebuilds_a_catalogue_that_missed_a_task(upload):
    from io import StringIO

    from django.core.management import call_command

    upload(make_report(layers=3, started_at=day(1)))
    Series.objects.all().delete()  # as if the broker had been down at ingest
    out = StringIO()
    call_command("refresh_series", stdout=out)
    assert out.getvalue().strip() == "4 series in the catalogue."
    assert catalogue()[("m1", "fc0")] == ("Linear", 0, day(1), day(1), 1)
