"""The sweep report, schema "roofwatch.sweep/1": what `roofwatch-engine sweep`
writes and the platform ingests. Like engine.report it imports nothing but
the standard library, so the platform can share its constants and the two
questions every reader asks of a sweep: which configurations are on the
throughput/p99 Pareto front, and which is best under a p99 SLO."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.report import Source

SWEEP_SCHEMA = "roofwatch.sweep/1"
MODE_GRID = "grid"  # every configuration of the grid measured
MODE_AUTOTUNE = "autotune"  # an optimiser chose which to measure, under slo_p99_ms
MODES = (MODE_GRID, MODE_AUTOTUNE)
STATUS_OK = "ok"
STATUS_FAILED = "failed"  # a worker raised or died; `error` says how
STATUS_SKIPPED = "skipped"  # cannot run here (pinning more CPUs than allowed); `error` says why
STATUSES = (STATUS_OK, STATUS_FAILED, STATUS_SKIPPED)
KNOBS = ("threads", "batch", "instances", "pin", "passes", "quant")  # a configuration's keys
ROUNDS_MAX = 100  # rounds of measurements of each configuration, at most


@dataclass(frozen=True)
class ConfigResult:
    """One configuration and what it measured. Latency is one forward pass
    of `batch` samples, over every instance's timed passes; throughput is
    samples/s of all instances together over the span from the first timed
    pass's start to the last one's end. Measured in rounds (SweepReport.rounds),
    latencies, throughput and faults are the medians of the rounds' values,
    timed_passes and span_s their sums, and the *_rounds lists each round's
    value in measurement order (one per round it got; empty when it did not
    run, and in reports from before rounds)."""
    threads: int
    batch: int
    instances: int
    pin: str
    passes: str
    quant: str
    status: str
    error: str = ""
    cores: list[list[int]] | None = None  # each instance's CPUs when pinned
    p25_ms: float | None = None
    p50_ms: float | None = None
    p75_ms: float | None = None
    p99_ms: float | None = None
    throughput: float | None = None  # samples/s
    timed_passes: int = 0  # over all instances
    span_s: float | None = None
    faults_per_pass: float | None = None  # minor page faults, all instances
    throughput_rounds: list[float] = field(default_factory=list)
    p99_ms_rounds: list[float] = field(default_factory=list)

    def knobs(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in KNOBS}


@dataclass(frozen=True)
class SweepReport:
    idempotency_key: str
    started_at: str  # ISO 8601, UTC
    mode: str  # one of MODES
    model: str  # a zoo model, or onnx:<file stem>
    params: dict[str, Any]  # the model's params but batch (a knob)
    machine: dict[str, Any]  # fingerprint, hostname, cpu_model, cores
    knobs: dict[str, dict]  # engine.sweep.system_knobs.read_knobs()
    source: Source
    warmup: int
    repeats: int  # timed passes per instance, at least (measure_config: more to fill its minimum time)
    grid: dict[str, list]  # every knob's values
    results: list[ConfigResult]
    slo_p99_ms: float | None = None  # autotune's SLO
    budget_s: float | None = None  # the sweep stopped measuring when this ran out
    load_before: float | None = None
    load_after: float | None = None
    rounds: int = 1  # measurements of each configuration: interleaved over the grid, back to back in autotune
    schema: str = SWEEP_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the (throughput, p99) points no other point beats: none has
    higher-or-equal throughput with lower-or-equal p99 and one of them strictly."""
    front = []
    for i, (tp, p99) in enumerate(points):
        if not any((t >= tp and p <= p99) and (t > tp or p < p99) for t, p in points):
            front.append(i)
    return front


def best_under_slo(points: Sequence[tuple[float, float]], slo_p99_ms: float) -> int | None:
    """Index of the highest throughput among points with p99 (ms) within the
    SLO; the lower p99 breaks a tie, then the earlier point. None if none meets it."""
    meeting = [i for i, (_, p99) in enumerate(points) if p99 <= slo_p99_ms]
    return min(meeting, key=lambda i: (-points[i][0], points[i][1], i), default=None)


def measured_points(results: Sequence[ConfigResult]) -> list[tuple[int, tuple[float, float]]]:
    """(index in results, (throughput, p99_ms)) of each configuration that measured."""
    return [(i, (r.throughput, r.p99_ms)) for i, r in enumerate(results)
            if r.status == STATUS_OK and r.throughput is not None and r.p99_ms is not None]
