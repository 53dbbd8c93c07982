"""`prune_layers` rolls up and seals the days before the cutoff, then deletes
the layer rows of old runs, keeping the runs and the daily rollups; it never
deletes the rows of a day that is not sealed."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import CommandError, call_command

from fleet.models import Machine
from results.ingest import ingest_report
from results.models import DailyRollup, LayerMeasurement, RollupDay, Run
from results.retention import DaysNotRolledUp, cutoff_for, delete_raw_before, prune_layers
from results.rollups import raw_window_start, roll_up_day, utc_day
from tests.report_factory import make_report

NOW = datetime.now(timezone.utc)


@pytest.fixture
def runs(db) -> dict[str, Run]:
    """Old, new and old again, so a new run's layer ids lie between the old ones'."""
    machine = Machine.objects.create(name="m1")
    ages = {"old": 40, "new": 2, "older": 90}
    return {
        label: ingest_report(make_report(layers=4, started_at=NOW - timedelta(days=days)), machine)[0]
        for label, days in ages.items()
    }


def end_to_end(run: Run) -> tuple:
    return Run.objects.filter(pk=run.pk).values_list("median", "p25", "p75", "min", "n", "started_at").get()


def test_it_deletes_the_layers_of_old_runs_and_keeps_the_runs(runs):
    before = {label: end_to_end(run) for label, run in runs.items()}

    result = prune_layers(30, batch_size=3)

    assert (result.runs, result.layers) == (2, 8)
    assert result.batches > 1  # id ranges, not one statement
    assert LayerMeasurement.objects.filter(run=runs["new"]).count() == 4
    assert not LayerMeasurement.objects.filter(run__in=[runs["old"], runs["older"]]).exists()
    assert {label: end_to_end(run) for label, run in runs.items()} == before


def test_a_dry_run_counts_and_deletes_nothing(runs):
    result = prune_layers(30, dry_run=True)

    assert (result.runs, result.layers, result.batches, result.dry_run) == (2, 8, 0, True)
    assert LayerMeasurement.objects.count() == 12


def test_the_age_limit_is_respected(runs):
    assert prune_layers(100).layers == 0
    assert prune_layers(60).layers == 4  # only "older"
    assert LayerMeasurement.objects.filter(run=runs["old"]).count() == 4


def test_the_command_prints_what_it_did(runs, capsys):
    call_command("prune_layers", "--older-than", "30", "--dry-run")
    assert "then delete 8 layer rows of 2 runs" in capsys.readouterr().out
    assert not RollupDay.objects.exists()
    assert LayerMeasurement.objects.count() == 12

    call_command("prune_layers", "--older-than", "30", "--batch-size", "5")
    assert "deleted 8 layer rows of 2 runs" in capsys.readouterr().out
    assert LayerMeasurement.objects.count() == 4 and Run.objects.count() == 3


def test_the_command_refuses_a_negative_age(db):
    with pytest.raises(CommandError, match="older_than_days must be >= 0"):
        call_command("prune_layers", "--older-than", "-1")


def rollups() -> dict:
    return {row[:3]: row[3:] for row in DailyRollup.objects.values_list(
        "machine__name", "layer", "day", "median", "p25", "p75", "min", "n", "first", "last")}


def test_every_deleted_day_was_rolled_up_first_from_all_its_rows(runs):
    days = [utc_day(runs[label].started_at) for label in ("older", "old", "new")]
    for day in days:
        roll_up_day(day)
    from_all_rows = rollups()
    DailyRollup.objects.all().delete()

    result = prune_layers(30)

    # every day from the oldest run's to the cutoff, empty ones too
    assert result.layers == 8 and result.sealed == (cutoff_for(30).date() - days[0]).days
    assert rollups() == {key: value for key, value in from_all_rows.items() if key[2] < days[2]}
    assert raw_window_start() == cutoff_for(30)
    assert not RollupDay.objects.filter(day__gte=cutoff_for(30).date(), sealed_at__isnull=False).exists()


def test_the_cutoff_is_a_utc_midnight_so_days_go_whole(runs):
    cutoff = cutoff_for(30, now=datetime(2025, 5, 10, 15, 30, tzinfo=timezone.utc))
    assert cutoff == datetime(2025, 4, 10, tzinfo=timezone.utc)


def test_rows_of_a_day_that_is_not_sealed_are_never_deleted(runs):
    cutoff = cutoff_for(30)
    with pytest.raises(DaysNotRolledUp, match="not rolled up and sealed"):
        delete_raw_before(cutoff)
    assert LayerMeasurement.objects.count() == 12

    prune_layers(60)  # seals the days before 60 days ago
    with pytest.raises(DaysNotRolledUp, match=f"first {utc_day(cutoff_for(60))}"):
        delete_raw_before(cutoff)  # the days from 60 to 30 days ago are not sealed
    assert LayerMeasurement.objects.filter(run=runs["old"]).count() == 4


def test_an_interrupted_prune_resumes_without_changing_the_rollups(runs):
    prune_layers(30, dry_run=True)
    from results.rollups import seal_days_before

    seal_days_before(cutoff_for(30).date())
    sealed = rollups()
    LayerMeasurement.objects.filter(run=runs["older"]).delete()  # the delete stopped half way

    result = prune_layers(30)
    assert result.layers == 4 and result.sealed == 0
    assert rollups() == sealed


def test_a_late_run_for_a_sealed_day_adds_its_series_before_its_rows_go(runs, db):
    prune_layers(30)
    late_machine = Machine.objects.create(name="m2")
    ingest_report(make_report(fingerprint="fp-late", layers=2, started_at=runs["old"].started_at), late_machine)

    assert prune_layers(30).layers == 2
    assert set(DailyRollup.objects.filter(machine__name="m2").values_list("layer", "n")) == {("fc0", 1), ("relu0", 1)}


def test_beat_rolls_up_and_prunes_daily_with_the_retention_setting(runs, settings):
    from celery.schedules import crontab

    from results.tasks import roll_up_and_prune

    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "results.tasks.roll_up_and_prune")
    assert isinstance(entry["schedule"], crontab)
    settings.ROOFWATCH_RAW_RETENTION_DAYS = 60
    outcome = roll_up_and_prune()  # the task's body, as a worker runs it
    assert outcome["layers_deleted"] == 4  # only "older" is past 60 days
    assert RollupDay.objects.filter(sealed_at__isnull=True).exists()  # days since rolled up, not sealed
    assert LayerMeasurement.objects.filter(run=runs["old"]).count() == 4
