"""Signals the regressions app sends. Subscribers (notify) connect to them;
regressions itself never imports a subscriber."""
import logging

from django.dispatch import Signal

log = logging.getLogger(__name__)

# Sent with sender=Alert and alert_ids=[<int>, ...] inside the transaction that
# files new alerts, before it commits: a receiver writes what must commit with
# them (notify's pending deliveries, its outbox). Not robust: a receiver's error
# rolls the alerts back too, and the detection task runs again.
alerts_written = Signal()

# Sent with sender=Alert and alert_ids=[<int>, ...] once the transaction that
# filed new alerts has committed (never for an alert detection only updated).
alerts_filed = Signal()


def send_alerts_written(alert_ids: list[int]) -> None:
    from regressions.models import Alert

    alerts_written.send(sender=Alert, alert_ids=alert_ids)


def send_alerts_filed(alert_ids: list[int]) -> None:
    """Send alerts_filed; a failing receiver is logged, never raised: the alerts are stored."""
    from regressions.models import Alert

    for receiver, result in alerts_filed.send_robust(sender=Alert, alert_ids=alert_ids):
        if isinstance(result, Exception):
            log.error("alerts_filed receiver %r failed for alerts %s", receiver, alert_ids, exc_info=result)
