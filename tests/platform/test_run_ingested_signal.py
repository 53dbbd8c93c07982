"""run_ingested is sent once per new run, after the transaction commits."""
import pytest

from results import signals
from results.models import Run
from tests.report_factory import make_report


@pytest.fixture
def received():
    calls = []

    def receiver(sender, run_id, **kwargs):
        calls.append((sender, run_id, Run.objects.filter(pk=run_id).exists()))

    signals.run_ingested.connect(receiver, weak=False)
    yield calls
    signals.run_ingested.disconnect(receiver)


def test_it_sends_run_ingested_once_after_commit(upload, received, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_id = upload(make_report()).json()["id"]
    assert received == []  # not before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert received == [(Run, run_id, True)]


def test_it_does_not_send_run_ingested_for_a_replay(upload, received, django_capture_on_commit_callbacks):
    report = make_report()
    with django_capture_on_commit_callbacks(execute=True):
        upload(report)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert upload(report).status_code == 200
    assert callbacks == [] and len(received) == 1


def test_it_does_not_send_run_ingested_for_a_rejected_report(upload, received, django_capture_on_commit_callbacks):
    report = make_report()
    del report["layers"][0]["bound"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert upload(report).status_code == 400
    assert callbacks == [] and received == []


@pytest.mark.django_db(transaction=True)
def test_it_sends_run_ingested_on_a_real_commit(upload, received):
    run_id = upload(make_report()).json()["id"]
    assert received == [(Run, run_id, True)]


def test_a_failing_receiver_does_not_fail_the_upload(upload, django_capture_on_commit_callbacks, caplog):
    def broken(sender, run_id, **kwargs):
        raise RuntimeError("broker down")

    signals.run_ingested.connect(broken, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(make_report())
    finally:
        signals.run_ingested.disconnect(broken)
    assert response.status_code == 201
    assert "run_ingested receiver" in caplog.text and "broker down" in caplog.text
