"""Celery tasks of the regressions app. Thin: the work is in regressions.detection.

All are acks_late (a worker lost mid-task leaves the message for another) and
idempotent (detection upserts), so redelivery and retries are safe; a lost
database connection is retried with backoff.
"""
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from regressions.detection import detect_benchmark
from results.models import Run

RETRY = {"acks_late": True, "autoretry_for": (OperationalError, InterfaceError), "retry_backoff": True,
         "max_retries": 5}


@shared_task(**RETRY)
def detect_series_group(machine_id: int, benchmark_id: int) -> int:
    """Detection over every series of one benchmark on one machine (after an
    ingest, and from the sweep); returns how many alerts were written."""
    return len(detect_benchmark(machine_id, benchmark_id))


@shared_task(**RETRY)
def sweep() -> int:
    """Queue detection for every benchmark and machine with a run in the last
    ROOFWATCH_SWEEP_DAYS days; returns how many groups were queued."""
    since = timezone.now() - timedelta(days=settings.ROOFWATCH_SWEEP_DAYS)
    groups = Run.objects.filter(started_at__gte=since).order_by().values_list("machine_id", "benchmark_id").distinct()
    count = 0
    for machine_id, benchmark_id in groups:
        detect_series_group.delay(machine_id, benchmark_id)
        count += 1
    return count
