"""On real PostgreSQL, catalogue tasks running at once (other runs of the same
series, and duplicate deliveries of the same run) count every run exactly once."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection, connections

from engine.report import END_TO_END
from fleet.models import Machine
from results.catalogue import refresh_series_for_run
from results.ingest import ingest_report
from results.models import Run, Series
from tests.conftest import need_service
from tests.report_factory import make_report

RUNS = 6
DELIVERIES = 2  # every run's task delivered twice


@pytest.mark.django_db(transaction=True)
def test_concurrent_and_duplicate_deliveries_count_each_run_once():
    if connection.vendor != "postgresql":
        need_service(f"row locks need PostgreSQL, the test database is {connection.vendor} (set DATABASE_URL)")
    machine = Machine.objects.create(name="m1")
    first = datetime(2025, 3, 1, tzinfo=timezone.utc)
    run_ids = [ingest_report(make_report(layers=4, started_at=first + timedelta(days=d)), machine)[0].pk
               for d in range(RUNS)]
    Series.objects.all().delete()  # transaction=True runs the on-commit tasks (eager): start from nothing
    Run.objects.update(catalogued=False)

    jobs = [run_id for run_id in run_ids for _ in range(DELIVERIES)]
    start = threading.Barrier(len(jobs))
    written, failures = [], []

    def deliver(run_id: int) -> None:
        try:
            start.wait(timeout=30)
            written.append(refresh_series_for_run(run_id))
        except Exception as exc:  # reported below with the others
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(run_id,)) for run_id in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert failures == []
    assert sorted(written) == [0] * RUNS + [5] * RUNS  # one delivery per run did the work
    rows = {s.layer: (s.first, s.last, s.points) for s in Series.objects.all()}
    last = first + timedelta(days=RUNS - 1)
    assert rows == {layer: (first, last, RUNS) for layer in (END_TO_END, "fc0", "relu0", "fc1", "relu1")}
