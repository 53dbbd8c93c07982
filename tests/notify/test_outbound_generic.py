"""A generic endpoint gets the summary as JSON, signed with HMAC-SHA256 over
"<timestamp>.<body>", with a delivery id that stays the same on every attempt."""
import pytest

from notify.models import Delivery
from notify.outbound import file_deliveries, send
from notify.signing import roofwatch_signature
from regressions.models import Alert
from tests.notify.alerts import endpoint, make_regression

pytestmark = pytest.mark.django_db


def test_it_posts_a_signed_summary_and_logs_the_delivery(receiver):
    summary = make_regression()
    endpoint("generic", receiver.url + "/hook", secret="s3cret")
    (pk,) = file_deliveries(list(Alert.objects.values_list("pk", flat=True)))
    assert send(pk).value == "delivered"
    (seen,) = receiver.requests
    headers = {k.lower(): v for k, v in seen.headers.items()}
    assert headers["x-roofwatch-signature"] == roofwatch_signature("s3cret", headers["x-roofwatch-timestamp"],
                                                                   seen.body)
    delivery = Delivery.objects.get()
    assert headers["x-roofwatch-delivery"] == str(delivery.delivery_id)
    body = seen.json()
    assert body["delivery"] == str(delivery.delivery_id)
    assert body["summary"]["id"] == summary.pk
    assert body["summary"]["url"].endswith(f"/alerts/{summary.pk}/")
    assert body["summary"]["attribution"]["commits"]["first_bad"] == "c12"
    assert {a["layer"] for a in body["summary"]["alerts"]} >= {"fc1"}
    assert (delivery.attempts, delivery.response_code, delivery.state) == (1, 200, "delivered")


def test_it_never_sends_a_delivered_delivery_again(receiver):
    make_regression()
    endpoint("generic", receiver.url, secret="s")
    alert_ids = list(Alert.objects.values_list("pk", flat=True))
    (pk,) = file_deliveries(alert_ids)
    send(pk)
    assert send(pk).value == "delivered"
    assert file_deliveries(alert_ids) == []  # filed again: the same delivery, already delivered
    assert len(receiver.requests) == 1 and Delivery.objects.count() == 1


def test_it_gives_up_on_a_permanent_refusal(receiver):
    make_regression()
    receiver.fail_first, receiver.fail_status = 99, 404
    endpoint("generic", receiver.url)
    (pk,) = file_deliveries(list(Alert.objects.values_list("pk", flat=True)))
    assert send(pk).value == "gave_up"
    delivery = Delivery.objects.get()
    assert (delivery.response_code, delivery.state) == (404, "failed")
    assert "HTTP 404" in delivery.last_error


def test_it_files_nothing_for_a_disabled_endpoint(receiver):
    make_regression()
    endpoint("generic", receiver.url, enabled=False)
    assert file_deliveries(list(Alert.objects.values_list("pk", flat=True))) == []
