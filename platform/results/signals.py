"""Signals the results app sends. Subscribers (the regressions app) connect to
them; results itself never imports a subscriber."""
import logging

from django.dispatch import Signal

log = logging.getLogger(__name__)

# Sent with sender=Run, run_id=<int>, machine_id=<int>, benchmark_id=<int> and
# in_series=<bool> (False for a bisection's run, which no series takes) once the
# transaction that stored a new run has committed (never for a replay of a stored run).
run_ingested = Signal()

# Sent with sender=Run, groups=[(machine id, benchmark id), ...] and progress=<callable
# taking how many groups are done> once a bulk import (results.asv_import) has
# committed its runs, which sent no run_ingested: change detection sweeps those
# series once, in this process. Receivers return how many alerts they wrote.
runs_imported = Signal()


def send_run_ingested(run) -> None:
    """Send run_ingested for a stored Run; a failing receiver is logged, never
    raised: the run is stored and the agent must not retry an upload that succeeded."""
    from engine.report import PURPOSE_BISECT
    from results.models import Run

    for receiver, result in run_ingested.send_robust(
            sender=Run, run_id=run.pk, machine_id=run.machine_id, benchmark_id=run.benchmark_id,
            in_series=run.purpose != PURPOSE_BISECT):
        if isinstance(result, Exception):
            log.error("run_ingested receiver %r failed for run %s", receiver, run.pk, exc_info=result)


def send_runs_ingested(runs: list) -> None:
    """run_ingested for each Run one upload stored, the tasks its receivers
    queue published together (core.task_batch)."""
    from core.task_batch import batched_tasks

    with batched_tasks():
        for run in runs:
            send_run_ingested(run)


def send_runs_imported(groups: list[tuple[int, int]], progress=None) -> int:
    """runs_imported for the series of a bulk import; returns the alerts its receivers wrote."""
    from results.models import Run

    return sum(result for _, result in runs_imported.send(sender=Run, groups=groups, progress=progress)
               if isinstance(result, int))
