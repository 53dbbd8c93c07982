"""The send task retries a failing receiver with exponential backoff and stops
at the first 2xx: exactly one successful delivery, every attempt counted."""
import pytest

from notify.models import Delivery
from notify.outbound import backoff_seconds
from notify.tasks import notify_alerts
from regressions.models import Alert
from tests.notify.alerts import endpoint, make_regression

pytestmark = pytest.mark.django_db


def test_a_receiver_failing_three_times_gets_one_delivery_after_four_attempts(receiver):
    make_regression()
    receiver.fail_first = 3
    endpoint("generic", receiver.url, secret="s")
    notify_alerts.delay(list(Alert.objects.values_list("pk", flat=True)))  # eager: retries run at once
    delivery = Delivery.objects.get()
    assert (delivery.attempts, delivery.response_code, delivery.state) == (4, 200, "delivered")
    assert len(receiver.requests) == 4 and len(receiver.accepted_ids) == 1
    assert {r.headers["X-Roofwatch-Delivery"] for r in receiver.requests} == {str(delivery.delivery_id)}


def test_it_gives_up_after_the_last_retry(receiver, settings):
    settings.ROOFWATCH_WEBHOOK_MAX_RETRIES = 2
    make_regression()
    receiver.fail_first = 99
    endpoint("generic", receiver.url)
    notify_alerts.delay(list(Alert.objects.values_list("pk", flat=True)))
    delivery = Delivery.objects.get()
    assert (delivery.attempts, delivery.state) == (3, "failed")
    assert delivery.last_error.startswith("gave up after 3 attempts; last error: HTTP 503")


def test_the_backoff_doubles_and_is_capped(settings):
    settings.ROOFWATCH_WEBHOOK_BACKOFF_SECONDS = 30
    assert [backoff_seconds(n) for n in range(4)] == [30, 60, 120, 240]
    assert backoff_seconds(20) == 3600
