"""The outbox: an alert and its pending deliveries commit together (notify
files them inside the detection transaction), a lost queueing leaves them
pending, and the beat sweep sends what is due, once."""
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from notify import receivers
from notify.models import Delivery
from notify.outbound import due_deliveries, file_deliveries
from notify.tasks import notify_alerts, send_delivery, sweep_deliveries
from regressions.models import Alert
from regressions.signals import send_alerts_filed
from tests.notify.alerts import endpoint, make_regression

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(project, receiver):
    return endpoint("generic", receiver.url)


def overdue(**fields) -> None:
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1), **fields)


def test_detection_files_pending_deliveries_in_its_own_transaction(hook, receiver):
    # No after-commit hook runs here (the test's transaction never commits): the rows come from inside it.
    summary = make_regression()
    delivery = Delivery.objects.get()
    assert (delivery.endpoint, delivery.summary, delivery.state, delivery.attempts) == (hook, summary, "pending", 0)
    assert receiver.requests == []


def test_a_failure_to_file_the_deliveries_rolls_the_alerts_back(hook, monkeypatch):
    def broken(alert_ids):
        raise RuntimeError("notify is broken")

    monkeypatch.setattr(receivers, "file_deliveries", broken)
    with pytest.raises(RuntimeError):
        make_regression()
    assert not Alert.objects.exists() and not Delivery.objects.exists()


def test_a_lost_queueing_leaves_the_delivery_pending_and_the_sweep_sends_it(hook, receiver, monkeypatch):
    make_regression()

    def broker_down(*args, **kwargs):
        raise OperationalError("broker unreachable")

    monkeypatch.setattr(notify_alerts, "delay", broker_down)
    send_alerts_filed(list(Alert.objects.values_list("pk", flat=True)))  # logged, not raised
    assert Delivery.objects.get().state == "pending" and receiver.requests == []
    assert sweep_deliveries() == 0  # not due yet: its queued send may still come
    overdue()
    assert sweep_deliveries() == 1
    assert Delivery.objects.get().state == "delivered"
    assert len(receiver.requests) == 1
    assert sweep_deliveries() == 0


def test_the_sweep_takes_only_what_is_due(project, receiver):
    make_regression()
    hooks = [endpoint("generic", f"{receiver.url}/{name}") for name in ("due", "later", "done", "dropped", "off")]
    file_deliveries(list(Alert.objects.values_list("pk", flat=True)))
    overdue()
    Delivery.objects.filter(endpoint=hooks[1]).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    Delivery.objects.filter(endpoint=hooks[2]).update(delivered_at=timezone.now())
    Delivery.objects.filter(endpoint=hooks[3]).update(gave_up=True)
    hooks[4].enabled = False
    hooks[4].save()
    assert due_deliveries() == [Delivery.objects.get(endpoint=hooks[0]).pk]


def test_send_retries_a_lost_database_connection(hook, receiver, monkeypatch):
    from notify import outbound

    make_regression()
    (pk,) = Delivery.objects.values_list("pk", flat=True)
    real, calls = outbound.send, []

    def flaky(delivery_pk):
        calls.append(delivery_pk)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(delivery_pk)

    monkeypatch.setattr(outbound, "send", flaky)
    assert send_delivery.apply(args=[pk]).get() == "delivered"
    assert calls == [pk, pk] and len(receiver.requests) == 1


def test_a_database_that_stays_down_leaves_the_delivery_pending(hook, monkeypatch):
    from notify import outbound

    make_regression()
    (pk,) = Delivery.objects.values_list("pk", flat=True)

    def down(delivery_pk):
        raise OperationalError("no database")

    monkeypatch.setattr(outbound, "send", down)
    with pytest.raises(OperationalError):
        send_delivery.apply(args=[pk]).get()
    assert Delivery.objects.get().state == "pending"
