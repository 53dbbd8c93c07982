"""Celery tasks of the results app. Thin: the work is in results.catalogue."""
from celery import shared_task
from django.db import InterfaceError, OperationalError

from results.catalogue import refresh_series_for_run
from results.models import Run

SWEEP_BATCH = 1000  # runs one catalogue sweep takes at most


# A lost database connection is retried with backoff; the refresh is idempotent,
# so a retry, a redelivery (acks_late) or the sweep cannot double-count.
RETRY = {"acks_late": True, "autoretry_for": (OperationalError, InterfaceError), "retry_backoff": True,
         "max_retries": 5}


@shared_task(**RETRY)
def refresh_series(run_id: int) -> int:
    """Recompute the series catalogue rows of run `run_id`; returns how many were written."""
    return refresh_series_for_run(run_id)


@shared_task(**RETRY)
def catalogue_sweep() -> int:
    """Catalogue the runs whose refresh_series task was lost (broker down,
    worker killed); beat runs it. Returns how many runs it catalogued."""
    uncatalogued = Run.objects.filter(catalogued=False).order_by("pk").values_list("pk", flat=True)[:SWEEP_BATCH]
    return sum(1 for run_id in uncatalogued if refresh_series_for_run(run_id))
