"""What a receiver answered (the last error holds its reply text) is shown to
staff only: the alert page itself may be read anonymously."""
import pytest

from notify.models import Delivery
from notify.outbound import Outcome, file_deliveries, send
from regressions.models import Alert
from tests.notify.alerts import endpoint, make_regression

pytestmark = pytest.mark.django_db
REPLY = b"internal-reply-text: db01.corp password reset"


@pytest.fixture
def refused_delivery(receiver):
    receiver.fail_first, receiver.fail_status, receiver.fail_body = 1, 400, REPLY
    summary = make_regression()
    endpoint("generic", receiver.url)
    (pk,) = file_deliveries(list(Alert.objects.values_list("pk", flat=True)))
    assert send(pk) is Outcome.GAVE_UP
    assert REPLY.decode() in Delivery.objects.get().last_error
    return summary


def test_an_anonymous_reader_of_the_alert_page_does_not_see_the_reply(client, refused_delivery):
    page = client.get(f"/alerts/{refused_delivery.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="deliveries"' in html and "failed" in html
    assert "internal-reply-text" not in html


def test_staff_see_the_reply_on_the_alert_page(admin_client, refused_delivery):
    html = admin_client.get(f"/alerts/{refused_delivery.pk}/").content.decode()
    assert "internal-reply-text" in html
