"""On PostgreSQL, new runs are written with one binary COPY (results.bulk_copy.copy_new),
their ids drawn by the ingest's lookup: stored exactly as bulk_create stores them."""
from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from fleet.models import Machine
from results.bulk_copy import copy_new
from results import ingest
from results.ingest import _new_run, ingest_report
from results.ingest_lookup import lookup
from results.models import Benchmark, Project, Run
from results.report_parser import as_body, decode_report
from tests.conftest import need_service
from tests.report_factory import make_report


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        need_service(f"COPY needs PostgreSQL, the test database is {connection.vendor} (set DATABASE_URL)")


FULL_REPORT = make_report(fidelity=True, conditions={"loadavg_before": [0.1, 0.2, 0.3], "quiet": True})


def unsaved_run(machine: Machine, benchmark: Benchmark, report: dict = FULL_REPORT) -> Run:
    """A run as ingest makes it, by default from a report with every optional section."""
    run = _new_run(decode_report(as_body(report)), machine, "0" * 64)
    run.benchmark = benchmark
    run.idempotency_key = uuid.uuid4()
    return run


def drawn(count: int) -> list[int]:
    """Run ids from the run table's sequence, drawn as the ingest's lookup draws them."""
    return lookup(0, (), (), (), new_runs=count).new_run_ids


def stored(run: Run) -> dict:
    """Every column of the run as read back, but those each insert sets itself."""
    values = Run.objects.filter(pk=run.pk).values().get()
    return {k: v for k, v in values.items() if k not in ("id", "idempotency_key", "received_at")}


@pytest.mark.django_db
def test_a_copied_run_reads_back_equal_to_one_bulk_create_stored(postgres):
    machine = Machine.objects.create(name="m1")
    benchmark = Benchmark.objects.create(project=Project.for_repository("https://example.com/r"), model="mlp",
                                         params_hash="h")
    copied, created = unsaved_run(machine, benchmark), unsaved_run(machine, benchmark)
    before = timezone.now()
    copy_new([copied], drawn(1))
    Run.objects.bulk_create([created])

    assert copied.pk is not None and not copied._state.adding
    assert stored(copied) == stored(created)
    assert stored(copied)["roofs"] and stored(copied)["conditions"] == {"loadavg_before": [0.1, 0.2, 0.3],
                                                                        "quiet": True}
    assert Run.objects.get(pk=copied.pk).received_at >= before  # auto_now_add, set as bulk_create sets it


@pytest.mark.django_db(transaction=True)
def test_a_stored_key_in_the_copy_is_the_integrity_error_an_insert_raises(postgres):
    machine = Machine.objects.create(name="m1")
    run, _ = ingest_report(make_report(), machine)
    again = unsaved_run(machine, run.benchmark)
    again.idempotency_key = run.idempotency_key
    with pytest.raises(IntegrityError, match="idempotency_key"):
        copy_new([again], drawn(1))
    assert Run.objects.count() == 1


@pytest.mark.django_db
def test_the_ingest_copies_its_runs_under_the_ids_its_lookup_drew(postgres, monkeypatch):
    real_lookup = ingest.lookup

    def drawn_far_away(*args, **kwargs):
        found = real_lookup(*args, **kwargs)
        assert found.new_run_ids  # one per report of the upload
        found.new_run_ids = [10**9 + i for i in range(len(found.new_run_ids))]
        return found

    monkeypatch.setattr(ingest, "lookup", drawn_far_away)
    outcomes = ingest.ingest_reports([make_report(), make_report()], Machine.objects.create(name="m1"))
    assert [outcome.run.pk for outcome in outcomes] == [10**9, 10**9 + 1]
    assert set(Run.objects.values_list("pk", flat=True)) == {10**9, 10**9 + 1}


@pytest.mark.django_db
def test_too_few_ids_are_refused_before_anything_is_written(postgres):
    machine = Machine.objects.create(name="m1")
    benchmark = Benchmark.objects.create(project=Project.for_repository("https://example.com/r"), model="mlp",
                                         params_hash="h")
    runs = [unsaved_run(machine, benchmark), unsaved_run(machine, benchmark)]
    with pytest.raises(ValueError, match="2 new runs need as many ids, got 1"):
        copy_new(runs, ids=[10**9])
    assert Run.objects.count() == 0
