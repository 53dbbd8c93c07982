"""Retention: per-layer rows of old runs are deleted, their runs (with the
end-to-end statistics) are kept, so long end-to-end series stay while the
measurement table stops growing without bound."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Min
from django.utils import timezone

from results.catalogue import refresh_all_series
from results.models import LayerMeasurement, Run

DEFAULT_BATCH_SIZE = 20_000


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    runs: int  # runs started before the cutoff that still had layer rows
    layers: int  # layer rows deleted (or, in a dry run, that would be)
    batches: int  # DELETE statements issued
    dry_run: bool


def old_layers(cutoff: datetime):
    """Layer rows of runs started before `cutoff`. Goes through the run index
    (run_newest) and the layers' run foreign key, not a scan of the layer table."""
    return LayerMeasurement.objects.filter(run__in=Run.objects.filter(started_at__lt=cutoff).values("pk"))


def prune_layers(
    older_than_days: float, *, dry_run: bool = False, batch_size: int = DEFAULT_BATCH_SIZE, now: datetime | None = None
) -> PruneResult:
    """Delete the LayerMeasurement rows of runs started more than `older_than_days` ago.

    Deletes go by id ranges of `batch_size` ids, each its own short statement
    (autocommit), so no lock is held on many rows for long and an interrupted
    prune has still done part of its work; run it again to finish. The series
    catalogue is then rebuilt, so its point counts leave out the deleted rows.
    """
    if older_than_days < 0:
        raise ValueError(f"older_than_days must be >= 0, got {older_than_days}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    layers = old_layers(cutoff)
    runs = layers.values("run_id").distinct().count()
    bounds = layers.aggregate(low=Min("id"), high=Max("id"))
    if dry_run:
        return PruneResult(cutoff, runs, layers.count(), 0, dry_run)
    deleted = batches = 0
    if bounds["low"] is not None:
        for start in range(bounds["low"], bounds["high"] + 1, batch_size):
            # started_at is the run's, copied onto each layer row (see LayerMeasurement).
            count, _ = LayerMeasurement.objects.filter(
                id__gte=start, id__lt=start + batch_size, started_at__lt=cutoff
            ).delete()
            deleted += count
            batches += 1
    # Even when nothing was left to delete: an interrupted earlier prune may have
    # deleted rows without getting here.
    refresh_all_series()
    return PruneResult(cutoff, runs, deleted, batches, dry_run)
