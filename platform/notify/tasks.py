"""Celery tasks of notify. Thin: the work is in notify.outbound.

acks_late: a worker lost mid-send leaves the message for another worker,
which finds the delivery not yet marked delivered and sends it again with the
same delivery id. A message lost with the broker leaves its delivery pending
for `sweep_deliveries` (beat)."""
from celery import shared_task
from django.db import InterfaceError, OperationalError

from notify import dispatch, outbound

DB_ERRORS = (OperationalError, InterfaceError)
DB_RETRY = {"acks_late": True, "autoretry_for": DB_ERRORS, "retry_backoff": True, "max_retries": 5}
DB_MAX_RETRIES = DB_RETRY["max_retries"]


@shared_task(**DB_RETRY)
def notify_alerts(alert_ids: list[int]) -> int:
    """File the deliveries of newly filed alerts (if the detection transaction
    has not already) and queue their sending; returns how many were queued."""
    pending = outbound.file_deliveries(alert_ids)
    for pk in pending:
        dispatch.queue(send_delivery, pk)
    return len(pending)


@shared_task(**DB_RETRY)
def sweep_deliveries() -> int:
    """Queue a send of every delivery that is due (never sent, or its backoff
    passed): what a lost message or a dead worker left; returns how many.
    First it files the culprit deliveries a lost receiver missed (sent later)."""
    for bisection_id in outbound.missed_culprits():
        outbound.file_culprit_deliveries(bisection_id)
    due = outbound.due_deliveries()
    for pk in due:
        dispatch.queue(send_delivery, pk)
    return len(due)


@shared_task(bind=True, acks_late=True, max_retries=None)
def send_delivery(self, delivery_pk: int) -> str:
    try:
        outcome = outbound.send(delivery_pk)
    except DB_ERRORS as exc:
        if self.request.retries >= DB_MAX_RETRIES:
            raise  # the delivery stays pending: the sweep sends it
        return _retry(self, outbound.backoff_seconds(self.request.retries), exc)
    if outcome is outbound.Outcome.RETRY:  # bounded: outbound.send gives up after the last retry
        return _retry(self, outbound.backoff_seconds(self.request.retries))
    if outcome is outbound.Outcome.BUSY and not self.request.is_eager:
        # Another worker is sending it: look again when that attempt lapses, in case its worker died.
        return _retry(self, outbound.SENDING_GRACE_SECONDS)
    return outcome.value


def _retry(task, countdown: float, exc: Exception | None = None):
    if task.request.is_eager:  # no broker: returning the Retry makes apply() run it at once, without raising
        return task.retry(countdown=countdown, exc=exc, throw=False)
    raise task.retry(countdown=countdown, exc=exc)
