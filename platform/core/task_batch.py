"""Publishing many small tasks as one message.

A Celery publish costs about 1 ms of the web process' CPU (measured on this
machine: 0.8-1.3 ms per `.delay` to Redis), and each stored run queued two (its
catalogue refresh and its detection): 2.5 ms a 100-layer report, more than the
rest of a batch upload's work on it. Inside `batched_tasks()`, `queue(task,
*args)` collects the calls, and leaving the block publishes one `.delay` per
task called once and one `run_each` message per task called more often. The
same call made twice in a block goes out once (the tasks queued are idempotent:
detection over one benchmark's series for an upload of many of its runs).
Outside a block `queue` is plain `.delay`.
"""
from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from celery import current_app, shared_task
from django.db import InterfaceError, OperationalError

_local = threading.local()
log = logging.getLogger(__name__)


@contextmanager
def batched_tasks() -> Iterator[None]:
    """Collect the `queue` calls made inside, publish them on leaving."""
    outer = getattr(_local, "pending", None)
    if outer is not None:  # nested: the outer block publishes
        yield
        return
    _local.pending = defaultdict(dict)  # task: {arguments: arguments as a list}, in call order
    try:
        yield
    finally:
        pending, _local.pending = _local.pending, None
        for task, unique in pending.items():
            calls = list(unique.values())
            try:
                if len(calls) == 1:
                    task.delay(*calls[0])
                else:
                    run_each.delay(task.name, calls)
            except Exception:  # a broker outage: logged, as send_robust logs a failing receiver
                # The work is already stored; the beat sweeps queue what was lost.
                log.exception("could not queue %s for %d calls", task.name, len(calls))


def queue(task, *args) -> None:
    """`task.delay(*args)`, or collected for one message inside `batched_tasks()`
    (the arguments must then be hashable: a repeated call is dropped)."""
    pending = getattr(_local, "pending", None)
    if pending is None:
        task.delay(*args)
    else:
        pending[task].setdefault(args, list(args))


# The tasks batched are idempotent (they say so), so a retry running every call again is safe.
@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=5)
def run_each(task_name: str, calls: list[list]) -> int:
    """Run the registered task `task_name` once per argument list, in this worker."""
    task = current_app.tasks[task_name]
    for args in calls:
        task(*args)
    return len(calls)
