"""Receivers notify connects (in NotifyConfig.ready).

The outbox: `file_with_alerts` runs inside the detection transaction
(regressions' `alerts_written`, a plain signal: an error here rolls the alerts
back too), so an alert and its pending deliveries commit together or not at
all. After the commit, `send_after_alerts_filed` queues their sending; if that
is lost, the beat sweep finds the pending rows (notify.outbound.due_deliveries).
"""
from notify import dispatch
from notify.outbound import file_deliveries
from notify.tasks import notify_alerts


def file_with_alerts(sender, alert_ids: list[int], **kwargs) -> None:
    file_deliveries(list(alert_ids))


def send_after_alerts_filed(sender, alert_ids: list[int], **kwargs) -> None:
    """alerts_filed is sent after the detection transaction committed, so the worker finds the rows."""
    dispatch.queue(notify_alerts, list(alert_ids))
