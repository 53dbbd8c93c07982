"""Celery tasks of the bisection app; thin: the work is in bisection.runner.
acks_late and idempotent (advance acts only on what the database holds)."""
from celery import shared_task
from django.db import InterfaceError, OperationalError

from bisection import runner
from regressions.models import AlertSummary

RETRY = {"acks_late": True, "autoretry_for": (OperationalError, InterfaceError), "retry_backoff": True,
         "max_retries": 5}


@shared_task(**RETRY)
def advance_bisection(bisection_id: int) -> str:
    bisection = runner.advance(bisection_id)
    return bisection.status if bisection else "gone"


@shared_task(**RETRY)
def start_bisections(summary_ids: list[int]) -> int:
    """Start a bisection for each summary that may have one by itself (runner.auto_start)."""
    return sum(runner.auto_start(summary) is not None
               for summary in AlertSummary.objects.filter(pk__in=summary_ids))


@shared_task(**RETRY)
def sweep_bisections() -> int:
    """Advance every active bisection: a lost task or a restarted worker stalls none for long."""
    ids = runner.active_ids()
    for bisection_id in ids:
        runner.advance(bisection_id)
    return len(ids)
