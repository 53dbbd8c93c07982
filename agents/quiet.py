"""Waiting for a quiet machine before measuring, and recording how quiet it was.

The 1-minute load average counts every runnable process, including other
heavy jobs on a shared box, so it is the one signal used: the agent waits,
bounded by max_wait, until it is below max_load, then measures anyway and
records the conditions in the report's `conditions` (and the agent's log and
the spool's metadata), with the CPU frequency governor and turbo/boost state
as sysfs shows them: null where the kernel does not say."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from engine.report import CPU_GOVERNOR_MAX_LENGTH

SYS_CPU = Path("/sys/devices/system/cpu")


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


def finish_conditions(conditions: dict[str, Any], cpus: Collection[int] | None, *,
                      sys_cpu: Path = SYS_CPU) -> dict[str, Any]:
    """Add what is known once the run ended: load after it, the CPU pinning,
    the frequency governor and turbo."""
    return {**conditions, "loadavg_after": [round(x, 2) for x in loadavg()], "cpus": sorted(cpus) if cpus else None,
            "cpu_governor": cpu_governor(cpus, sys_cpu), "turbo": turbo_enabled(sys_cpu)}


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip() or None
    except OSError:
        return None


def cpu_governor(cpus: Collection[int] | None, sys_cpu: Path = SYS_CPU) -> str | None:
    """The scaling governor of the pinned CPUs (all CPUs without pinning), the
    distinct ones comma-joined, e.g. "performance"; None where none is readable."""
    if cpus:
        files = [sys_cpu / f"cpu{n}" / "cpufreq" / "scaling_governor" for n in cpus]
    else:
        files = list(sys_cpu.glob("cpu[0-9]*/cpufreq/scaling_governor"))
    found = {g for g in map(_read, files) if g}
    return ",".join(sorted(found))[:CPU_GOVERNOR_MAX_LENGTH] if found else None


def turbo_enabled(sys_cpu: Path = SYS_CPU) -> bool | None:
    """Turbo/boost on (True) or off (False): intel_pstate's no_turbo, else
    cpufreq's boost; None when neither file says."""
    no_turbo = _read(sys_cpu / "intel_pstate" / "no_turbo")
    if no_turbo in ("0", "1"):
        return no_turbo == "0"
    boost = _read(sys_cpu / "cpufreq" / "boost")
    return boost == "1" if boost in ("0", "1") else None
