"""Celery tasks of the results app. Thin: the work is in results.catalogue,
results.rollups and results.retention."""
from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from results import partitions

from results.catalogue import refresh_series_for_run
from results.models import Run
from results.retention import prune_layers
from results.rollups import roll_up_pending

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


@shared_task(**RETRY)
def roll_up_and_prune() -> dict:
    """Beat, daily: roll up the past days not rolled up yet, then retention
    (seal the days before the raw window, delete their layer rows). Both are
    idempotent, so a retry or a redelivery repeats nothing."""
    rolled = roll_up_pending()
    pruned = prune_layers()
    return {"rolled_up": len(rolled), "sealed": pruned.sealed, "layers_deleted": pruned.layers,
            "cutoff": pruned.cutoff.isoformat()}


@shared_task(**RETRY)
def ensure_layer_partitions() -> list[str]:
    """Beat, daily: the layer table's monthly partitions for this month and
    ROOFWATCH_PARTITION_MONTHS_AHEAD more (PostgreSQL; nothing elsewhere)."""
    return partitions.ensure_partitions(settings.ROOFWATCH_PARTITION_MONTHS_AHEAD)
