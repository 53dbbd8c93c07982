"""notify/_deliveries.html, the delivery log the alert page includes: one row
per endpoint with state, response code and attempts; never a secret."""
import pytest
from django.template.loader import render_to_string

from notify.outbound import file_deliveries, send
from regressions.models import Alert
from tests.notify.alerts import endpoint, make_regression

pytestmark = pytest.mark.django_db


def test_it_lists_each_delivery_of_the_summary(receiver):
    summary = make_regression()
    endpoint("generic", receiver.url, secret="never-shown")
    (pk,) = file_deliveries(list(Alert.objects.values_list("pk", flat=True)))
    send(pk)
    html = render_to_string("notify/_deliveries.html",
                            {"deliveries": summary.deliveries.select_related("endpoint")})
    assert "generic JSON" in html and "delivered" in html and "<td>200</td>" in html
    assert "never-shown" not in html


def test_it_says_when_nothing_was_sent(db):
    assert "No webhook endpoint" in render_to_string("notify/_deliveries.html", {"deliveries": []})
