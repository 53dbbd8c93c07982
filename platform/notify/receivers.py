"""Receivers notify connects (in NotifyConfig.ready)."""
from notify.tasks import notify_alerts


def notify_after_alerts_filed(sender, alert_ids: list[int], **kwargs) -> None:
    """alerts_filed is sent after the detection transaction committed, so the worker finds the alerts."""
    notify_alerts.delay(list(alert_ids))
