"""Celery tasks of the results app. Thin: the work is in results.catalogue."""
from celery import shared_task
from django.db import InterfaceError, OperationalError

from results.catalogue import refresh_series_for_run


# A lost database connection is retried with backoff; the refresh is idempotent,
# so a retry or a redelivery (acks_late) cannot double-count.
@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5)
def refresh_series(run_id: int) -> int:
    """Recompute the series catalogue rows of run `run_id`; returns how many were written."""
    return refresh_series_for_run(run_id)
