"""The statements of one upload: a machine that the upload leaves as it is is
neither locked nor written, and the lookups take one statement, so a report
costs BEGIN, the lookup, the run's write and the layers' (COPYs on
PostgreSQL, INSERTs elsewhere) and COMMIT. A count, not a timing: a new statement on this path must be a choice."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fleet.models import Machine
from results import ingest
from results.ingest import LAST_SEEN_EVERY, ingest_report
from results.models import LayerMeasurement, Run
from tests.report_factory import make_report


@pytest.fixture
def seen(db, monkeypatch) -> Machine:
    """A machine that uploaded one report just now, as the token authentication reads it."""
    monkeypatch.setattr(ingest, "send_runs_ingested", lambda runs: None)  # only the upload's own statements
    machine = Machine.objects.create(name="m1")
    ingest_report(make_report(layers=2), machine)
    return Machine.objects.get(pk=machine.pk)


def statements(queries: CaptureQueriesContext) -> list[str]:
    """What each statement is: its first words, or "layers" for a write of layer rows."""
    return ["layers" if "results_layermeasurement" in q["sql"].split("(")[0] else " ".join(q["sql"].split()[:3])
            for q in queries.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_one_upload_of_a_seen_machine_is_five_statements(seen):
    with CaptureQueriesContext(connection) as queries:
        run, created = ingest_report(make_report(layers=100), seen)
    assert created and LayerMeasurement.objects.filter(run=run).count() == 100
    done = statements(queries)
    # SQLite inserts the layers in as many batches as its variable limit needs; PostgreSQL COPYs them once.
    done = [what for i, what in enumerate(done) if what != "layers" or done[i - 1] != "layers"]
    run_write = 'COPY "results_run" ("id",' if connection.vendor == "postgresql" else 'INSERT INTO "results_run"'
    assert done == [done[0], "SELECT 'p', p.repository_url,", run_write, "layers", "COMMIT"], done
    assert done[0].startswith("BEGIN")  # IMMEDIATE on SQLite
    assert not [q for q in queries.captured_queries if "fleet_machine" in q["sql"]]
    if connection.vendor == "postgresql":
        assert len([q for q in queries.captured_queries if q["sql"].startswith("COPY")]) == 2


@pytest.mark.django_db(transaction=True)
def test_a_replay_adds_one_statement_to_read_the_stored_run(seen):
    report = make_report(layers=3)
    stored, _ = ingest_report(report, seen)
    with CaptureQueriesContext(connection) as queries:
        run, created = ingest_report(report, seen)
    assert (run.pk, created) == (stored.pk, False)
    done = statements(queries)
    assert done[1:] == ["SELECT 'p', p.repository_url,", 'SELECT "results_run"."id", "results_run"."idempotency_key",',
                        "COMMIT"], done


@pytest.mark.django_db(transaction=True)
def test_the_machine_row_is_written_only_when_the_upload_changes_it(seen):
    last_seen = seen.last_seen
    ingest_report(make_report(layers=2), seen)
    assert Machine.objects.get(pk=seen.pk).last_seen == last_seen  # seen within LAST_SEEN_EVERY: left alone

    Machine.objects.filter(pk=seen.pk).update(last_seen=timezone.now() - LAST_SEEN_EVERY - timedelta(seconds=1))
    ingest_report(make_report(layers=2), Machine.objects.get(pk=seen.pk))
    assert Machine.objects.get(pk=seen.pk).last_seen > last_seen  # stale: marked seen again

    ingest_report(make_report(layers=2, machine={"peak_gflops": 999.0}), Machine.objects.get(pk=seen.pk))
    assert Machine.objects.get(pk=seen.pk).peak_gflops == 999.0  # new hardware: written at once
    assert Run.objects.filter(machine=seen).count() == 4
