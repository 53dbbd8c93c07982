"""Detection over stored runs writes one alert per series and change, grouped
into one summary per cause, idempotently, and marks changes that vanished."""
import pytest

from engine.report import END_TO_END
from fleet.models import Machine
from regressions.detection import detect_benchmark
from regressions.models import IMPROVEMENT, REGRESSION, UNTRIAGED, Alert, AlertSummary
from tests.regressions.history import history, ingest_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine() -> Machine:
    return Machine.objects.create(name="m1")


def detect(runs) -> list[Alert]:
    return detect_benchmark(runs[0].machine_id, runs[0].benchmark_id)


def test_it_finds_no_alert_in_a_flat_noisy_history(machine):
    runs = ingest_all(history(30, layers=6), machine)
    assert detect(runs) == []
    assert AlertSummary.objects.count() == 0


def test_a_slower_layer_gives_one_summary_with_the_commit_range(machine):
    runs = ingest_all(history(18, slow_from=12, slow={"fc1": 3.0}, layers=6), machine)
    detect(runs)
    summary = AlertSummary.objects.get()
    alerts = {alert.layer: alert for alert in summary.alerts.all()}
    assert "fc1" in alerts and END_TO_END in alerts
    fc1 = alerts["fc1"]
    assert fc1.direction == REGRESSION and fc1.rel_change == pytest.approx(2.0, rel=0.1)
    assert (fc1.run_before, fc1.run_after) == (runs[11], runs[12])
    commits = summary.attribution["commits"]
    assert (commits["last_good"], commits["first_bad"]) == ("c11", "c12")
    assert summary.status == UNTRIAGED
    assert fc1.classification and summary.classification


def test_running_detection_again_writes_no_new_alerts(machine):
    runs = ingest_all(history(18, slow_from=12, slow={"fc1": 3.0}, layers=6), machine)
    first = sorted(alert.pk for alert in detect(runs))
    again = sorted(alert.pk for alert in detect(runs))
    assert first == again
    assert Alert.objects.count() == len(first) and AlertSummary.objects.count() == 1


def test_a_faster_layer_is_an_improvement_summary(machine):
    runs = ingest_all(history(18, slow_from=12, slow={"fc1": 0.3}, layers=6), machine)
    detect(runs)
    summary = AlertSummary.objects.get()
    assert summary.status == IMPROVEMENT
    assert {alert.direction for alert in summary.alerts.all()} == {"improvement"}


def test_a_config_change_is_attributed_to_the_flag(machine):
    runs = ingest_all(
        history(18, slow_from=12, slow={"fc1": 3.0}, layers=6, commit_prefix="same", config_after={"quant": "int8"}),
        machine,
    )
    detect(runs)
    summary = AlertSummary.objects.get()
    assert summary.attribution["config"] == {"quant": {"before": "none", "after": "int8"}}


def test_an_alert_whose_change_vanished_is_marked_not_deleted(machine):
    runs = ingest_all(history(20, layers=4), machine)
    summary = AlertSummary.objects.create(key="k", project=runs[0].benchmark.project)
    stale = Alert.objects.create(
        summary=summary, original_summary=summary, machine=machine, benchmark=runs[0].benchmark, layer="fc1",
        run_before=runs[9], run_after=runs[10], before=1.0, after=1.5, rel_change=0.5, confidence=0.9,
        direction=REGRESSION,
    )
    detect(runs)
    stale.refresh_from_db()
    assert stale.vanished_at is not None


def test_a_run_with_no_history_finds_nothing(machine):
    runs = ingest_all(history(1, layers=4), machine)
    assert detect(runs) == []


def test_it_sends_alerts_filed_once_for_new_alerts_after_commit(machine, django_capture_on_commit_callbacks):
    from regressions.signals import alerts_filed

    received = []

    def receiver(sender, alert_ids, **kwargs):
        received.append(sorted(alert_ids))

    alerts_filed.connect(receiver, weak=False)
    try:
        runs = ingest_all(history(18, slow_from=12, slow={"fc1": 3.0}, layers=6), machine)
        with django_capture_on_commit_callbacks(execute=True):
            first = detect(runs)
        with django_capture_on_commit_callbacks(execute=True):
            detect(runs)  # nothing new: no signal
    finally:
        alerts_filed.disconnect(receiver)
    assert received == [sorted(alert.pk for alert in first)]
