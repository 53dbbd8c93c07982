"""Concurrent uploads of one report on real PostgreSQL store one run."""
import pytest
from celery._state import _set_task_join_will_block
from django.db import connection

from fleet.models import Machine
from results.ingest import ingest_report
from results.models import LayerMeasurement, Run
from tests.concurrency import race
from tests.conftest import need_service
from tests.report_factory import make_report

UPLOADS = 4


@pytest.fixture(autouse=True)
def celery_join_flag_reset():
    """Eager tasks run in these threads (after each commit). Celery guards an eager
    task with a process-global 'joining would block' flag that it saves and restores
    without a lock, so concurrent eager tasks can leave it set, and a later test's
    result.get() then refuses to wait ("Never call result.get() within a task!")."""
    yield
    _set_task_join_will_block(False)


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_key_store_one_run():
    if connection.vendor != "postgresql":
        need_service(f"row locks need PostgreSQL, the test database is {connection.vendor} (set DATABASE_URL)")
    machine = Machine.objects.create(name="m1")
    report = make_report(fingerprint="fp-race")
    results = race(lambda i: ingest_report(report, machine), UPLOADS, timeout=60)
    results = [(run.pk, created) for run, created in results]
    assert len({pk for pk, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * (UPLOADS - 1) + [True]
    assert Run.objects.count() == 1 and LayerMeasurement.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_from_a_seen_machine_store_one_run():
    """A machine the upload leaves unchanged is not locked (results.ingest): the
    run's unique key, and the pass that retries after it, keep one run."""
    if connection.vendor != "postgresql":
        need_service(f"row locks need PostgreSQL, the test database is {connection.vendor} (set DATABASE_URL)")
    machine = Machine.objects.create(name="m1")
    ingest_report(make_report(fingerprint="fp-race"), machine)
    seen = Machine.objects.get(pk=machine.pk)
    report = make_report(fingerprint="fp-race")
    results = race(lambda i: ingest_report(report, seen), UPLOADS, timeout=60)
    assert sorted(created for _, created in results) == [False] * (UPLOADS - 1) + [True]
    assert len({run.pk for run, _ in results}) == 1
    assert Run.objects.count() == 2 and LayerMeasurement.objects.count() == 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_of_different_reports_each_copy_all_their_layers():
    if connection.vendor != "postgresql":
        need_service(f"COPY needs PostgreSQL, the test database is {connection.vendor} (set DATABASE_URL)")
    layers = 200
    machines = [Machine.objects.create(name=f"m{i}") for i in range(UPLOADS)]
    reports = [make_report(fingerprint=f"fp-{i}", layers=layers, time_scale=1 + i) for i in range(UPLOADS)]
    race(lambda i: ingest_report(reports[i], machines[i]), UPLOADS, timeout=60)
    for machine, report in zip(machines, reports):
        run = Run.objects.get(idempotency_key=report["idempotency_key"])
        stored = list(run.layers.order_by("index").values_list("machine_id", "index", "name", "median"))
        expected = [(machine.pk, la["index"], la["name"], la["time"]["median"]) for la in report["layers"]]
        assert stored == expected
    assert LayerMeasurement.objects.count() == UPLOADS * layers
