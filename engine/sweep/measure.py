"""Measure one sweep configuration: its instances as worker processes of
engine.onnx_io.process_race (each under its own thread limits and CPU set),
started together and timed together; then the whole sweep in rounds, each
round over the grid in turn forward and back, within an optional time
budget; a configuration's rounds combine into one result (their medians)."""
from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engine.onnx_io.process_race import RaceWorkers, RunnerSpec
from engine.sweep.grid import SweepConfig, SweepConfigError, instance_cores
from engine.sweep.report import STATUS_FAILED, STATUS_OK, STATUS_SKIPPED, ConfigResult

DEFAULT_TIMEOUT_S = 300.0  # one worker's build or window of passes
# Measurements of each configuration. On a 2-core machine one round against
# another gave throughput ratios of 0.71-1.39 (p5-p95), the median of 3 rounds
# against that of 3 others 0.93-1.25 (README, deployment sweeps).
DEFAULT_ROUNDS = 3
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
MEDIANS = ("p25_ms", "p50_ms", "p75_ms", "p99_ms", "throughput", "faults_per_pass")
SUMS = ("timed_passes", "span_s")


def _over_rounds(rounds: Sequence[ConfigResult], name: str, combine: Callable) -> Any:
    values = [getattr(r, name) for r in rounds]
    return None if None in values else combine(values)


def combine_rounds(rounds: Sequence[ConfigResult]) -> ConfigResult:
    """One configuration's rounds as one result: the first that failed or was
    skipped, if any; else MEDIANS each the median of the rounds' values, SUMS
    summed, and each round's throughput and p99 listed. A median, not a mean:
    of three rounds, one caught by a burst of load leaves it between the other
    two. The medians of ordered quantiles stay in order."""
    if not rounds:
        raise ValueError("no rounds to combine")
    bad = next((r for r in rounds if r.status != STATUS_OK), None)
    if bad is not None:
        return bad
    return replace(rounds[0], **{f: _over_rounds(rounds, f, lambda v: float(statistics.median(v))) for f in MEDIANS},
                   **{f: _over_rounds(rounds, f, sum) for f in SUMS},
                   throughput_rounds=[r.throughput for r in rounds], p99_ms_rounds=[r.p99_ms for r in rounds])


def back_to_back(measure: Measure, rounds: int) -> Measure:
    """`measure` taking `rounds` measurements of a configuration in a row,
    combined; it stops at the first that did not measure (skipped: cannot run
    here; failed: the configuration is failed anyway)."""
    def measure_rounds(config: SweepConfig) -> ConfigResult:
        got = [measure(config)]
        while len(got) < rounds and got[-1].status == STATUS_OK:
            got.append(measure(config))
        return combine_rounds(got)

    return measure_rounds


def run_grid(configs: Sequence[SweepConfig], measure: Measure, *, rounds: int = 1, budget_s: float | None = None,
             progress: Progress | None = None) -> list[ConfigResult]:
    """Every configuration measured in `rounds` rounds: round 1 over the grid
    in order, round 2 in reverse, and so on, so slow drift of the machine
    over the sweep falls alike on every configuration; each one's rounds
    combined (combine_rounds), in grid order. One that failed or was skipped
    is not measured again. Once `budget_s` has run out nothing more is
    measured (a measurement already started finishes): a configuration keeps
    the rounds it got, one with none is skipped, saying so. `progress` sees
    each measurement, then each configuration the budget skipped."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    start = time.monotonic()
    got: list[list[ConfigResult]] = [[] for _ in configs]
    forward = list(range(len(configs)))
    for i in [i for r in range(rounds) for i in (forward if r % 2 == 0 else forward[::-1])]:
        if got[i] and got[i][-1].status != STATUS_OK:  # failed or cannot run here: settled
            continue
        if budget_s is not None and time.monotonic() - start >= budget_s:
            break
        got[i].append(measure(configs[i]))
        if progress is not None:
            progress(got[i][-1])
    results = []
    for config, measured in zip(configs, got):
        if measured:
            results.append(combine_rounds(measured))
            continue
        results.append(_result(config, STATUS_SKIPPED, f"the sweep's time budget of {budget_s:g} s ran out"))
        if progress is not None:
            progress(results[-1])
    return results
