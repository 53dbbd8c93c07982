"""culprit_found webhooks: when a bisection finds its culprit, every enabled
endpoint of the project gets one delivery (idempotent, retried by the sweep),
with a message per endpoint kind."""
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from bisection.models import RUNNING, Bisection
from bisection.signals import culprit_found
from notify import dispatch
from notify.models import EVENT_ALERT_SUMMARY, EVENT_CULPRIT_FOUND, Delivery
from notify.outbound import file_culprit_deliveries, file_deliveries, missed_culprits, send
from notify.tasks import send_delivery, sweep_deliveries
from tests.notify.alerts import endpoint, make_regression
from tests.notify.culprits import CULPRIT_AUTHOR, CULPRIT_SHA, CULPRIT_SUBJECT, make_bisection

pytestmark = pytest.mark.django_db


@pytest.fixture
def summary(project, settings):
    settings.SITE_URL = "https://rw.example.com"
    return make_regression()


def culprit_deliveries():
    return Delivery.objects.filter(event=EVENT_CULPRIT_FOUND)


def found(summary):
    return make_bisection(summary)


def test_the_signal_files_and_sends_one_delivery_per_enabled_endpoint(summary, receiver):
    hooks = [endpoint("generic", f"{receiver.url}/{name}") for name in ("a", "b", "off")]
    hooks[2].enabled = False
    hooks[2].save()
    bisection = found(summary)
    culprit_found.send(sender=Bisection, bisection_id=bisection.pk)
    assert sorted(d.endpoint.name for d in culprit_deliveries()) == sorted(h.name for h in hooks[:2])
    assert {d.state for d in culprit_deliveries()} == {"delivered"}
    assert sorted(r.path for r in receiver.requests) == ["/a", "/b"]
    # The alert's own deliveries and the culprit's live side by side.
    assert len(file_deliveries(list(summary.alerts.values_list("pk", flat=True)))) == 2
    assert Delivery.objects.filter(event=EVENT_ALERT_SUMMARY).count() == 2 and culprit_deliveries().count() == 2


def test_filing_is_idempotent(summary, receiver):
    endpoint("generic", receiver.url)
    bisection = found(summary)
    first = file_culprit_deliveries(bisection.pk)
    assert len(first) == 1
    assert file_culprit_deliveries(bisection.pk) == first
    assert culprit_deliveries().count() == 1
    culprit_found.send(sender=Bisection, bisection_id=bisection.pk)
    culprit_found.send(sender=Bisection, bisection_id=bisection.pk)
    assert culprit_deliveries().count() == 1 and len(receiver.requests) == 1


def test_a_bisection_without_a_culprit_files_nothing(summary, receiver):
    endpoint("generic", receiver.url)
    assert file_culprit_deliveries(make_bisection(summary, status=RUNNING).pk) == []
    assert file_culprit_deliveries(99999) == []
    assert not culprit_deliveries().exists()


def test_the_generic_body_carries_the_summary_and_the_bisection(summary, receiver):
    endpoint("generic", receiver.url, secret="s3cret")
    bisection = found(summary)
    (pk,) = file_culprit_deliveries(bisection.pk)
    assert send(pk).value == "delivered"
    (seen,) = receiver.requests
    body = seen.json()
    delivery = Delivery.objects.get(pk=pk)
    assert body["event"] == "culprit_found" and body["delivery"] == str(delivery.delivery_id)
    assert seen.headers["X-Roofwatch-Delivery"] == str(delivery.delivery_id)
    assert body["summary"]["id"] == summary.pk and body["summary"]["alerts"]
    b = body["bisection"]
    assert b["id"] == bisection.pk and b["status"] == "found"
    assert b["url"] == f"https://rw.example.com/alerts/{summary.pk}/#bisection-{bisection.pk}"
    assert b["culprits"] == [{"sha": CULPRIT_SHA, "subject": CULPRIT_SUBJECT, "author": CULPRIT_AUTHOR,
                              "url": f"https://github.com/example/roofwatch-models/commit/{CULPRIT_SHA}",
                              "skipped": []}]
    assert (b["steps"], b["rounds"]) == (4, 4)


def test_slack_gets_one_line_per_culprit(summary, receiver):
    endpoint("slack", receiver.url + "/services/T/B/X")
    bisection = found(summary)
    (pk,) = file_culprit_deliveries(bisection.pk)
    assert send(pk).value == "delivered"
    text = receiver.requests[0].json()["text"]
    assert text == (f"culprit found: {CULPRIT_SHA[:12]} matmul: &lt;tile&gt; the inner loop &amp; unroll "
                    f"(<https://rw.example.com/alerts/{summary.pk}/#bisection-{bisection.pk}>)")


def test_github_gets_a_failure_status_on_the_culprit_commit(summary, receiver):
    endpoint("github_status", receiver.url + "/api/v3", token="ghp_test")
    bisection = found(summary)
    (pk,) = file_culprit_deliveries(bisection.pk)
    assert send(pk).value == "delivered"
    (seen,) = receiver.requests
    assert seen.path == f"/api/v3/repos/example/roofwatch-models/statuses/{CULPRIT_SHA}"
    body = seen.json()
    assert body["state"] == "failure" and body["context"] == "roofwatch/culprit"
    assert body["target_url"].endswith(f"#bisection-{bisection.pk}")
    assert "series slower" in body["description"] and len(body["description"]) <= 140


def test_github_status_is_not_filed_for_a_repository_not_on_github(summary, receiver):
    endpoint("github_status", receiver.url)
    bisection = found(summary)
    Bisection.objects.filter(pk=bisection.pk).update(repository="https://gitlab.example.com/a/b")
    assert file_culprit_deliveries(bisection.pk) == []
    assert not culprit_deliveries().exists()


def test_a_lost_send_is_retried_by_the_sweep(summary, receiver, monkeypatch):
    endpoint("generic", receiver.url)
    bisection = found(summary)

    def broker_down(*args, **kwargs):
        raise OperationalError("broker unreachable")

    monkeypatch.setattr(send_delivery, "delay", broker_down)
    culprit_found.send(sender=Bisection, bisection_id=bisection.pk)  # filed; the send is logged, not raised
    delivery = culprit_deliveries().get()
    assert delivery.state == "pending" and receiver.requests == []
    monkeypatch.undo()
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert sweep_deliveries() == 1
    delivery.refresh_from_db()
    assert delivery.state == "delivered"
    assert [r.json()["event"] for r in receiver.requests] == ["culprit_found"]


def test_the_sweep_files_what_a_lost_receiver_missed(summary, receiver, monkeypatch):
    endpoint("generic", receiver.url)
    bisection = found(summary)
    Bisection.objects.filter(pk=bisection.pk).update(finished_at=timezone.now())
    assert missed_culprits() == [bisection.pk]  # culprit_found never reached notify
    monkeypatch.setattr(dispatch, "queue", lambda task, *args: None)  # nothing sent now
    sweep_deliveries()
    delivery = culprit_deliveries().get()
    assert delivery.state == "pending" and missed_culprits() == []
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    monkeypatch.undo()
    sweep_deliveries()
    delivery.refresh_from_db()
    assert delivery.state == "delivered"


def test_the_sweep_leaves_old_bisections_alone(summary, receiver):
    endpoint("generic", receiver.url)
    bisection = found(summary)
    Bisection.objects.filter(pk=bisection.pk).update(finished_at=timezone.now() - timedelta(days=2))
    assert missed_culprits() == []
