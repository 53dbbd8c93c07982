"""Receivers the results app connects to its own signals (in ResultsConfig.ready)."""
from core.task_batch import queue
from results.tasks import refresh_series


def refresh_series_after_ingest(sender, run_id: int, **kwargs) -> None:
    """Queue the catalogue refresh of a new run. run_ingested is sent after the
    ingest transaction committed, so the worker finds the run."""
    queue(refresh_series, run_id)
