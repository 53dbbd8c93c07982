"""Signals the results app sends. Subscribers (the regressions app) connect to
them; results itself never imports a subscriber."""
import logging

from django.dispatch import Signal

log = logging.getLogger(__name__)

# Sent with sender=Run and run_id=<int> once the transaction that stored a new
# run has committed (never for a replay of a stored run).
run_ingested = Signal()


def send_run_ingested(run_id: int) -> None:
    """Send run_ingested; a failing receiver is logged, never raised: the run is
    already stored and the agent must not retry an upload that succeeded."""
    from results.models import Run

    for receiver, result in run_ingested.send_robust(sender=Run, run_id=run_id):
        if isinstance(result, Exception):
            log.error("run_ingested receiver %r failed for run %s", receiver, run_id, exc_info=result)
