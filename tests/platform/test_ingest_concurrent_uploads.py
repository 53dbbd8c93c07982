"""Concurrent uploads of one report on real PostgreSQL store one run."""
import threading

import pytest
from django.db import connection, connections

from fleet.models import Machine
from results.ingest import ingest_report
from results.models import LayerMeasurement, Run
from tests.conftest import need_service
from tests.report_factory import make_report

UPLOADS = 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_key_store_one_run():
    if connection.vendor != "postgresql":
        need_service(f"row locks need PostgreSQL, the test database is {connection.vendor} (set DATABASE_URL)")
    machine = Machine.objects.create(name="m1")
    report = make_report(fingerprint="fp-race")
    start = threading.Barrier(UPLOADS)
    results, failures = [], []

    def upload():
        try:
            start.wait(timeout=30)
            run, created = ingest_report(report, machine)
            results.append((run.pk, created))
        except Exception as exc:  # reported below with the others
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=upload) for _ in range(UPLOADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    assert len({pk for pk, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * (UPLOADS - 1) + [True]
    assert Run.objects.count() == 1 and LayerMeasurement.objects.count() == 4
