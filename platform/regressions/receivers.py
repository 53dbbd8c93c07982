"""Receivers the regressions app connects (in RegressionsConfig.ready)."""
from core.task_batch import queue
from regressions.detection import detect_groups
from regressions.tasks import detect_series_group


def detect_after_run_ingested(sender, machine_id: int, benchmark_id: int, in_series: bool = True,
                              **kwargs) -> None:
    """Queue detection over the series of a new run's benchmark and machine;
    run_ingested is sent after the ingest transaction committed, so the worker
    finds the run. An upload of many runs of one benchmark queues it once
    (core.task_batch.queue). A run no series takes (a bisection's) changes no
    series: nothing to detect."""
    if in_series:
        queue(detect_series_group, machine_id, benchmark_id)


def detect_after_runs_imported(sender, groups: list[tuple[int, int]], progress=None, **kwargs) -> int:
    """The sweep after a bulk import: detection over each imported series group, in
    this process (the importer waits for it and reports it); returns the alerts written."""
    return detect_groups(groups, progress)
