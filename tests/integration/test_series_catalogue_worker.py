"""The series catalogue is filled by a real Celery worker: an ingest commits,
run_ingested queues results.tasks.refresh_series over the broker, and the
worker process (PostgreSQL, same test database) writes the Series rows."""
import time
from datetime import datetime, timezone

from engine.report import END_TO_END
from fleet.models import Machine
from results.ingest import ingest_report
from results.models import Series
from tests.report_factory import make_report

WAIT_SECONDS = 30


def test_a_real_worker_fills_the_catalogue_after_an_ingest(celery_worker_process, monkeypatch):
    in_this_process = []  # so the rows below can only come from the worker
    monkeypatch.setattr("results.tasks.refresh_series_for_run", in_this_process.append)
    started = datetime(2025, 3, 1, 8, tzinfo=timezone.utc)
    machine = Machine.objects.create(name="worker-m1")
    run, created = ingest_report(make_report(layers=3, started_at=started), machine)
    assert created

    deadline = time.monotonic() + WAIT_SECONDS
    while Series.objects.count() < 4 and time.monotonic() < deadline:
        time.sleep(0.2)

    rows = {s.layer: (s.op, s.index, s.first, s.last, s.points) for s in Series.objects.filter(machine=machine)}
    assert rows == {
        END_TO_END: ("", None, started, started, 1),
        "fc0": ("Linear", 0, started, started, 1),
        "relu0": ("Relu", 1, started, started, 1),
        "fc1": ("Linear", 2, started, started, 1),
    }, f"the worker wrote {rows} within {WAIT_SECONDS} s"
    assert in_this_process == []
