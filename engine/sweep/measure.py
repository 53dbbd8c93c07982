"""Measure one sweep configuration: its instances as worker processes of
engine.onnx_io.process_race (each under its own thread limits and CPU set),
started together and timed together; then the whole sweep, in grid order,
within an optional time budget."""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.onnx_io.process_race import RaceWorkers, RunnerSpec
from engine.sweep.grid import SweepConfig, SweepConfigError, instance_cores
from engine.sweep.report import STATUS_FAILED, STATUS_OK, STATUS_SKIPPED, ConfigResult

DEFAULT_TIMEOUT_S = 300.0  # one worker's build or window of passes
# Timed passes last at least this long per configuration: 20-30 passes of a
# millisecond are over in 20-40 ms, and such a grid measured the same
# configuration pinned and unpinned up to 37% apart (README, autotune).
DEFAULT_MIN_TIME_S = 1.0
MAX_TIMED_PASSES = 100_000  # what min_time_s may ask of a model of microseconds


@dataclass(frozen=True)
class SweepTarget:
    """What a sweep runs: zoo model `model` with `params` (batch aside), or
    the ONNX file `onnx_file` (then `model` is its label, onnx:<stem>)."""
    model: str
    params: Mapping[str, Any] = field(default_factory=dict)
    onnx_file: str | None = None

    def specs(self, config: SweepConfig, cores: Sequence[tuple[int, ...] | None]) -> dict[str, RunnerSpec]:
        params = {**self.params, "batch": config.batch}
        return {f"instance{i}": RunnerSpec(
            "engine", self.model, params, config.threads,
            passes=None if config.passes == "none" else config.passes,
            quant=None if config.quant == "none" else config.quant,
            cores=cores[i], onnx_file=self.onnx_file) for i in range(config.instances)}


def _result(config: SweepConfig, status: str, error: str = "", **measured: Any) -> ConfigResult:
    return ConfigResult(**config.to_dict(), status=status, error=error, **measured)


def measure_config(target: SweepTarget, config: SweepConfig, *, repeats: int, warmup: int,
                   min_time_s: float = DEFAULT_MIN_TIME_S, allowed: Sequence[int] | None = None,
                   timeout_s: float = DEFAULT_TIMEOUT_S) -> ConfigResult:
    """`config`'s instances measured together: `warmup` untimed passes each,
    then timed passes, at least `repeats` and enough to last `min_time_s` at
    the pace the warm-up showed. A configuration that cannot run here is
    skipped, one whose worker fails is failed, each with the reason."""
    try:
        cores = instance_cores(config, sorted(os.sched_getaffinity(0)) if allowed is None else allowed)
    except SweepConfigError as e:
        return _result(config, STATUS_SKIPPED, str(e))
    try:
        with RaceWorkers(target.specs(config, cores), timeout_s=timeout_s) as workers:
            if warmup:  # also the pace: the slowest instance's median pass
                pace = max(float(np.median(w.times_s)) for w in workers.run_together(repeats=warmup, warmup=0).values())
                repeats = max(repeats, min(MAX_TIMED_PASSES, math.ceil(min_time_s / max(pace, 1e-9))))
            windows = list(workers.run_together(repeats=repeats, warmup=0).values())
    except Exception as e:  # noqa: BLE001 - one configuration's failure is its result, the sweep goes on
        return _result(config, STATUS_FAILED, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    times = np.concatenate([w.times_s for w in windows])
    p25, p50, p75, p99 = np.percentile(times, [25, 50, 75, 99]) * 1e3
    span = max(w.end for w in windows) - min(w.start for w in windows)
    return _result(config, STATUS_OK, cores=None if cores[0] is None else [list(c) for c in cores],
                   p25_ms=float(p25), p50_ms=float(p50), p75_ms=float(p75), p99_ms=float(p99), throughput=config.batch * times.size / span,
                   timed_passes=int(times.size), span_s=span,
                   faults_per_pass=sum(w.minor_faults for w in windows) / times.size)


Measure = Callable[[SweepConfig], ConfigResult]
Progress = Callable[[ConfigResult], None]


def run_grid(configs: Sequence[SweepConfig], measure: Measure, *, budget_s: float | None = None,
             progress: Progress | None = None) -> list[ConfigResult]:
    """Every configuration in order; once `budget_s` has run out the rest are
    skipped, saying so (a configuration already started finishes)."""
    start = time.monotonic()
    results = []
    for config in configs:
        if budget_s is not None and time.monotonic() - start >= budget_s:
            result = _result(config, STATUS_SKIPPED, f"the sweep's time budget of {budget_s:g} s ran out")
        else:
            result = measure(config)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
