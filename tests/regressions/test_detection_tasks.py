"""The detection tasks: queued after each ingest commits, swept periodically,
retried on a lost database connection, and never raising on odd data."""
from datetime import datetime, timedelta, timezone

import pytest
from celery.exceptions import Retry
from django.db import OperationalError

from fleet.models import Machine
from regressions import tasks
from regressions.models import Alert, AlertSummary
from results.ingest import ingest_report
from tests.regressions.history import history, ingest_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine() -> Machine:
    return Machine.objects.create(name="m1")


def test_an_ingest_queues_detection_after_it_commits(machine, django_capture_on_commit_callbacks):
    reports = history(18, slow_from=12, slow={"fc1": 3.0}, layers=6)
    ingest_all(reports[:-1], machine)  # on_commit callbacks of these are not run: no detection yet
    assert Alert.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        ingest_report(reports[-1], machine)
    summary = AlertSummary.objects.get()
    assert summary.alerts.filter(layer="fc1").exists()


def test_it_does_nothing_for_a_group_without_runs(machine):
    assert tasks.detect_series_group.apply(args=[machine.pk, 987654]).get() == 0


def test_it_asks_for_a_retry_after_a_lost_database_connection(machine, monkeypatch):
    run = ingest_all(history(3, layers=2), machine)[-1]

    def lost_connection(machine_id, benchmark_id):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(tasks, "detect_benchmark", lost_connection)
    # Eagerly applied, a retry surfaces as Retry; a worker would run the task again with backoff.
    with pytest.raises(Retry, match="server closed the connection"):
        tasks.detect_series_group.apply(args=[machine.pk, run.benchmark_id]).get()


def test_the_sweep_queues_every_benchmark_with_recent_runs(machine, monkeypatch, settings):
    settings.ROOFWATCH_SWEEP_DAYS = 7
    recent = datetime.now(timezone.utc) - timedelta(days=1)
    new = ingest_all(history(2, layers=2, start=recent, model="mlp"), machine)
    ingest_all(history(2, layers=2, start=recent - timedelta(days=30), model="old"), machine)
    other = ingest_all(history(2, layers=2, start=recent, fingerprint="fp-2"), Machine.objects.create(name="m2"))
    queued = []
    monkeypatch.setattr(tasks.detect_series_group, "delay", lambda *args: queued.append(args))
    assert tasks.sweep.apply().get() == 2
    assert sorted(queued) == sorted([(machine.pk, new[0].benchmark_id), (other[0].machine_id, other[0].benchmark_id)])


def test_constant_series_and_duplicate_timestamps_give_no_alert_and_no_error(machine):
    same_time = datetime(2026, 3, 1, tzinfo=timezone.utc)
    reports = history(12, layers=4)
    for report in reports:
        report["started_at"] = same_time.isoformat()
        for layer in report["layers"]:
            layer["time"] = {**layer["time"], "median": 1e-3, "p25": 1e-3, "p75": 1e-3, "min": 1e-3}
        report["end_to_end"] = {**report["end_to_end"], "median": 5e-3, "p25": 5e-3, "p75": 5e-3, "min": 5e-3}
    run = ingest_all(reports, machine)[-1]
    assert tasks.detect_series_group.apply(args=[machine.pk, run.benchmark_id]).get() == 0
