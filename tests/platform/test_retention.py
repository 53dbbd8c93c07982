"""`prune_layers` deletes the layer rows of old runs and keeps the runs."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import CommandError, call_command

from fleet.models import Machine
from results.ingest import ingest_report
from results.models import LayerMeasurement, Run
from results.retention import prune_layers
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
    assert "would delete 8 layer rows of 2 runs" in capsys.readouterr().out
    assert LayerMeasurement.objects.count() == 12

    call_command("prune_layers", "--older-than", "30", "--batch-size", "5")
    assert "Deleted 8 layer rows of 2 runs" in capsys.readouterr().out
    assert LayerMeasurement.objects.count() == 4 and Run.objects.count() == 3


def test_the_command_refuses_a_negative_age(db):
    with pytest.raises(CommandError, match="older_than_days must be >= 0"):
        call_command("prune_layers", "--older-than", "-1")
