"""Queueing notify's tasks so that no webhook goes out inside an HTTP request
or a transaction.

With a broker, `queue` hands the task to a worker; when that fails (broker
down) it logs and moves on: the deliveries are already stored as pending, and
the beat sweep (notify.tasks.sweep_deliveries) sends them later.

In the embedded default (eager tasks, no broker) a task queued while this
thread serves a request runs once the request has finished (Django's
`request_finished`, sent after the response went out), in the same thread, so
an agent's upload never waits for a receiver, and a test client's request has
sent its webhooks by the time it returns. Queued outside a request (a
management command, the sweep), it runs at once.
"""
from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)
_local = threading.local()  # .after_response: the tasks queued during this thread's request, else None


def queue(task, *args) -> None:
    after_response = getattr(_local, "after_response", None)
    if task.app.conf.task_always_eager and after_response is not None:
        after_response.append((task, args))
    else:
        _run(task, args)


def _run(task, args) -> None:
    try:
        task.delay(*args)
    except Exception:  # the rows stay pending: the sweep sends them
        log.exception("could not run or queue %s%r; the sweep will retry", task.name, tuple(args))


def on_request_started(**kwargs) -> None:
    _local.after_response = []


def on_request_finished(**kwargs) -> None:
    queued, _local.after_response = getattr(_local, "after_response", None) or [], None
    for task, args in queued:
        _run(task, args)
