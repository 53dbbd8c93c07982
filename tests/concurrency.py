"""Races on the database: one piece of work in several threads released together."""
from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def race(work: Callable[[int], object], threads: int, timeout: float = 120) -> list:
    """Run work(i) for i in range(threads), all released at once by a barrier;
    returns their results in order. Any exception fails the race (all are listed).
    Each thread closes its own database connections when done."""
    start = threading.Barrier(threads)
    results, failures = [None] * threads, []

    def run(i: int) -> None:
        try:
            start.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # reported below with the others
            failures.append(exc)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=timeout)
    assert failures == []
    return results
