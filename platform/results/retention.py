"""Retention: per-layer rows older than the raw window are deleted once their
days are rolled up (results.rollups); runs (with the end-to-end statistics)
and the daily rollups are kept for ever, so long series stay readable while
the measurement table stops growing without bound.

The order is what keeps every day: first each day before the cutoff is rolled
up from its complete raw rows and sealed (one transaction a day), then
`delete_raw_before` deletes, and refuses to while any day before the cutoff
is not sealed. The cutoff is a UTC midnight, so a day is deleted whole or not
at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Max, Min
from django.utils import timezone

from results import partitions
from results.models import LayerMeasurement
from results.rollups import (
    midnight,
    raw_window_start,
    roll_up_day,
    seal_days_before,
    unsealed_days_before,
    utc_day,
)

DEFAULT_BATCH_SIZE = 20_000


class DaysNotRolledUp(RuntimeError):
    """Raw rows of days without final rollups were about to be deleted."""


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime  # a UTC midnight: layer rows of runs started before it go
    runs: int  # runs started before the cutoff that still had layer rows
    layers: int  # layer rows deleted (or, in a dry run, that would be); a dropped month's as PostgreSQL estimates it
    batches: int  # DELETE statements issued
    dry_run: bool
    sealed: int = 0  # days rolled up and sealed now (in a dry run: that would be)


def cutoff_for(older_than_days: float, now: datetime | None = None) -> datetime:
    """The UTC midnight on or before `older_than_days` ago: raw rows are kept at
    least that long, and whole days go."""
    if older_than_days < 0:
        raise ValueError(f"older_than_days must be >= 0, got {older_than_days}")
    return midnight(utc_day((now or timezone.now()) - timedelta(days=older_than_days)))


def old_layers(cutoff: datetime):
    """Layer rows of runs started before `cutoff` (each row carries its run's
    started_at). On PostgreSQL only the monthly partitions that can hold them
    are read, through the BRIN index on started_at; runs, kept for ever, are
    not scanned."""
    return LayerMeasurement.objects.filter(started_at__lt=cutoff)


def prune_layers(
    older_than_days: float | None = None, *, dry_run: bool = False, batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime | None = None,
) -> PruneResult:
    """Roll up and seal the days before the cutoff, then delete the layer rows
    of runs started before it (`older_than_days` ago, rounded down to a UTC
    midnight; default ROOFWATCH_RAW_RETENTION_DAYS).

    The series catalogue is left as it is: a series' points stay readable
    (before the raw window, one per day from the rollups) and its run count
    stays true."""
    if older_than_days is None:
        older_than_days = settings.ROOFWATCH_RAW_RETENTION_DAYS
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    cutoff = cutoff_for(older_than_days, now)
    layers = old_layers(cutoff)
    runs = layers.values("run_id").distinct().count()
    if dry_run:
        return PruneResult(cutoff, runs, layers.count(), 0, dry_run, len(unsealed_days_before(cutoff.date())))
    late = _late_days(cutoff)
    sealed = seal_days_before(cutoff.date())
    for day in late:  # sealed by an earlier prune, raw rows again (a late upload): add what is missing
        roll_up_day(day)
    deleted, batches = delete_raw_before(cutoff, batch_size)
    return PruneResult(cutoff, runs, deleted, batches, dry_run, len(sealed))


def delete_raw_before(cutoff: datetime, batch_size: int = DEFAULT_BATCH_SIZE) -> tuple[int, int]:
    """Delete the layer rows of runs started before `cutoff`, every day before
    it being sealed (DaysNotRolledUp otherwise). The one deleting step of
    retention. Returns (rows deleted, DELETE statements).

    Deletes go by id ranges of `batch_size` ids, each its own short statement
    (autocommit), so no lock is held on many rows for long and an interrupted
    prune has still done part of its work; run it again to finish."""
    # A cutoff inside a day deletes part of that day: it must be sealed too.
    through = utc_day(cutoff) if cutoff == midnight(utc_day(cutoff)) else utc_day(cutoff) + timedelta(days=1)
    unsealed = unsealed_days_before(through)
    if unsealed:
        raise DaysNotRolledUp(
            f"{len(unsealed)} days before {cutoff.isoformat()} are not rolled up and sealed "
            f"(first {unsealed[0]}); seal them (results.rollups.seal_days_before) before deleting their rows."
        )
    with partitions.maintenance_lock():
        # Whole months first, on PostgreSQL: one DROP a month instead of a DELETE per row.
        deleted = sum(d.rows for d in partitions.drop_partitions_before(cutoff))
        bounds = old_layers(cutoff).aggregate(low=Min("id"), high=Max("id"))
        batches = 0
        if bounds["low"] is not None:
            for start in range(bounds["low"], bounds["high"] + 1, batch_size):
                # started_at is the run's, copied onto each layer row (see LayerMeasurement).
                count, _ = LayerMeasurement.objects.filter(
                    id__gte=start, id__lt=start + batch_size, started_at__lt=cutoff
                ).delete()
                deleted += count
                batches += 1
    return deleted, batches


def _late_days(cutoff: datetime) -> list[date]:
    """Days sealed already that have raw rows before the cutoff: an interrupted
    prune's leftovers, or a run uploaded after its day was sealed."""
    start = raw_window_start()
    if start is None:
        return []
    # The layer rows themselves, not a probe per old run: the rows before the raw
    # window are few (leftovers), and on PostgreSQL only the partitions that can
    # hold them are read, through the BRIN index on started_at.
    leftovers = LayerMeasurement.objects.filter(started_at__lt=min(start, cutoff)).order_by()
    return sorted({utc_day(moment) for moment in leftovers.values_list("started_at", flat=True).distinct()})
