"""Celery tasks of notify. Thin: the work is in notify.outbound.

acks_late: a worker lost mid-send leaves the message for another worker,
which finds the delivery not yet marked delivered and sends it again with the
same delivery id."""
from celery import shared_task
from django.db import InterfaceError, OperationalError

from notify import outbound
from notify.conf import setting

DB_RETRY = {"acks_late": True, "autoretry_for": (OperationalError, InterfaceError), "retry_backoff": True,
            "max_retries": 5}


@shared_task(**DB_RETRY)
def notify_alerts(alert_ids: list[int]) -> int:
    """File the deliveries of newly filed alerts and queue their sending; returns how many were queued."""
    pending = outbound.file_deliveries(alert_ids)
    for pk in pending:
        send_delivery.delay(pk)
    return len(pending)


@shared_task(bind=True, acks_late=True, max_retries=None)
def send_delivery(self, delivery_pk: int) -> str:
    outcome = outbound.send(delivery_pk)
    if outcome is outbound.Outcome.RETRY:
        if self.request.retries >= setting("ROOFWATCH_WEBHOOK_MAX_RETRIES"):
            outbound.give_up(delivery_pk, f"gave up after {self.request.retries + 1} attempts")
            return outbound.Outcome.GAVE_UP.value
        countdown = outbound.backoff_seconds(self.request.retries)
        if self.request.is_eager:  # no broker: returning the Retry makes apply() run it at once, without raising
            return self.retry(countdown=countdown, throw=False)
        raise self.retry(countdown=countdown)
    return outcome.value
