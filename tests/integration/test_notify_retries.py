"""On a real Celery worker (Redis, PostgreSQL), a receiver that fails 3 times
then succeeds gets exactly one successful delivery, and the log shows 4 attempts."""
import pytest

from notify.models import Delivery
from regressions.models import Alert
from tests.notify.alerts import endpoint, make_regression
from tests.notify.receiver import Receiver
from tests.notify.worker import notify_workers, wait_for  # noqa: F401  (fixture)

pytestmark = pytest.mark.services


def test_a_receiver_failing_three_times_then_succeeding_gets_one_delivery(notify_workers):
    receiver = Receiver(fail_first=3)
    try:
        make_regression()
        endpoint("generic", receiver.url, secret="s")
        notify_workers.start()
        from notify.tasks import notify_alerts

        assert notify_alerts.delay(list(Alert.objects.values_list("pk", flat=True))).get(timeout=60) == 1
        delivery = wait_for(lambda: Delivery.objects.filter(delivered_at__isnull=False).first(), 90,
                            "the delivery to succeed")
        assert (delivery.attempts, delivery.response_code, delivery.last_error) == (4, 200, "")
        assert len(receiver.requests) == 4
        assert receiver.accepted_ids == [str(delivery.delivery_id)]
    finally:
        receiver.close()
