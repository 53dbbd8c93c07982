"""Receivers notify connects (in NotifyConfig.ready).

The outbox: `file_with_alerts` runs inside the detection transaction
(regressions' `alerts_written`, a plain signal: an error here rolls the alerts
back too), so an alert and its pending deliveries commit together or not at
all. After the commit, `send_after_alerts_filed` queues their sending; if that
is lost, the beat sweep finds the pending rows (notify.outbound.due_deliveries).

A bisection's culprit: `send_after_culprit_found` (bisection's `culprit_found`,
sent after the bisection's commit) files the culprit_found deliveries in a
transaction at once and queues their sending; the sweep retries them like any
delivery, and files them itself if this receiver never ran (outbound.missed_culprits).
"""
from notify import dispatch
from notify.outbound import file_culprit_deliveries, file_deliveries
from notify.tasks import notify_alerts, send_delivery


def file_with_alerts(sender, alert_ids: list[int], **kwargs) -> None:
    file_deliveries(list(alert_ids))


def send_after_alerts_filed(sender, alert_ids: list[int], **kwargs) -> None:
    """alerts_filed is sent after the detection transaction committed, so the worker finds the rows."""
    dispatch.queue(notify_alerts, list(alert_ids))


def send_after_culprit_found(sender, bisection_id: int, **kwargs) -> None:
    for pk in file_culprit_deliveries(bisection_id):
        dispatch.queue(send_delivery, pk)
