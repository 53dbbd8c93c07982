"""Waiting for a quiet machine before measuring, and recording how quiet it was.

The 1-minute load average counts every runnable process, including other
heavy jobs on a shared box, so it is the one signal used: the agent waits,
bounded by max_wait, until it is below max_load, then measures anyway and
records the conditions (the report has no field for them yet; they go to the
agent's log and the spool's metadata)."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection
from typing import Any


def loadavg() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:  # not available (some containers): treat as unknown-but-quiet
        return (0.0, 0.0, 0.0)


def wait_for_quiet(
    max_load: float | None,
    max_wait: float,
    check_every: float,
    *,
    cancel: threading.Event | None = None,
    getload: Callable[[], tuple[float, float, float]] = loadavg,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Wait until the 1-minute load average is below `max_load` (None: do not
    wait) or `max_wait` seconds passed, or `cancel` is set. Returns the
    conditions: load before, whether it became quiet, seconds waited."""
    start = clock()
    before = getload()
    load = before
    quiet = max_load is None or load[0] < max_load
    while not quiet and clock() - start < max_wait and not (cancel is not None and cancel.is_set()):
        left = max_wait - (clock() - start)
        if cancel is not None:
            cancel.wait(min(check_every, left))
        else:
            time.sleep(min(check_every, left))
        load = getload()
        quiet = load[0] < max_load  # type: ignore[operator]
    return {
        "loadavg_before": [round(x, 2) for x in before],
        "loadavg_start": [round(x, 2) for x in load],
        "max_load": max_load,
        "quiet": quiet,
        "waited_seconds": round(clock() - start, 3),
    }


def finish_conditions(conditions: dict[str, Any], cpus: Collection[int] | None) -> dict[str, Any]:
    """Add what is known once the run ended: load after it and the CPU pinning."""
    return {**conditions, "loadavg_after": [round(x, 2) for x in loadavg()], "cpus": sorted(cpus) if cpus else None}
