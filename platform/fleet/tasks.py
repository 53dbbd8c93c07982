"""Celery tasks of the fleet app. Thin: the work is in fleet.jobs.

Both are acks_late (a worker lost mid-task leaves the message for another) and
idempotent (a schedule is due once per interval; an expired lease is released
once), so redelivery and retries are safe; a lost database connection is
retried with backoff.
"""
from celery import shared_task
from django.db import InterfaceError, OperationalError

from fleet import jobs

RETRY = {"acks_late": True, "autoretry_for": (OperationalError, InterfaceError), "retry_backoff": True,
         "max_retries": 5}


@shared_task(**RETRY)
def enqueue_scheduled_jobs() -> int:
    """Jobs for every due schedule (beat calls this every minute); returns how many were made."""
    return jobs.enqueue_scheduled()


@shared_task(**RETRY)
def release_expired_leases() -> dict:
    """Re-queue (or fail, after max_attempts) claimed jobs whose lease expired."""
    requeued, failed = jobs.release_expired()
    return {"requeued": requeued, "failed": failed}
