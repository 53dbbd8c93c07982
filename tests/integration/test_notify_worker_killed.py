"""A worker SIGKILLed while it sends a webhook: the task (acks_late) is
redelivered to another worker, which sends again with the same delivery id,
so the receiver, de-duplicating by that id, takes the alert in once."""
import pytest

from notify.models import Delivery
from notify.outbound import file_deliveries
from regressions.models import Alert
from tests.notify.alerts import endpoint, make_regression
from tests.notify.receiver import Receiver
from tests.notify.worker import notify_workers, wait_for  # noqa: F401  (fixture)

pytestmark = pytest.mark.services


def test_a_worker_killed_mid_send_is_redelivered_and_the_receiver_sees_one_alert(notify_workers):
    from notify.tasks import send_delivery

    receiver = Receiver(hold_first=True)
    try:
        make_regression()
        endpoint("generic", receiver.url, secret="s")
        (pk,) = file_deliveries(list(Alert.objects.values_list("pk", flat=True)))
        first = notify_workers.start()
        send_delivery.delay(pk)
        assert receiver.arrived.wait(60), "the first worker never sent"
        notify_workers.kill(first)  # mid-send: the receiver holds the request open
        receiver.release.set()
        assert Delivery.objects.get().delivered_at is None
        notify_workers.start()
        delivery = wait_for(lambda: Delivery.objects.filter(delivered_at__isnull=False).first(), 120,
                            "the redelivered task to deliver")
        ids = {r.headers["X-Roofwatch-Delivery"] for r in receiver.requests}
        assert ids == {str(delivery.delivery_id)}
        assert len(receiver.requests) == 2
        assert receiver.accepted_ids == [str(delivery.delivery_id)]
        assert delivery.attempts == 2  # the killed attempt is counted too
    finally:
        receiver.close()
