"""The run report, schema "roofwatch.run/1": the one contract between engine,
agent and platform (see docs/architecture.md "The run-report contract").

This module is shared: the platform imports its constants, so it must import
nothing but the standard library.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA = "roofwatch.run/1"
BOUNDS = ("compute", "bandwidth")
STAT_KEYS = ("median", "p25", "p75", "min", "n")
END_TO_END = "end_to_end"  # the layer name a whole-model series uses
ACCURACY_METRICS = ("auc_agreement", "top1_agreement", "none")
CALIBRATION_METHODS = ("minmax", "percentile", "kl")
CPU_GOVERNOR_MAX_LENGTH = 200  # conditions.cpu_governor: distinct sysfs governors, comma-joined
# Which bandwidth roof judges a layer: a streaming copy, or random-row gather at the layer's row size.
ROOF_KINDS = ("stream", "gather")
CONFIDENCE = 0.95  # TimeStats.ci_low/ci_high: the confidence of the median's interval
# Report.purpose: why the run was made. "" an ordinary run (it joins its series);
# "bisect" a run a bisection asked for at an old commit (it never joins a series).
PURPOSE_BISECT = "bisect"
PURPOSES = ("", PURPOSE_BISECT)
# Config.backend: which runtime ran the model. "engine" is roofwatch's own (and every report
# without the key); "onnxruntime" a run of the model's ONNX form in an onnxruntime session,
# whose report also carries Config.runtime and, on its benchmark, params["backend"].
BACKEND_ENGINE = "engine"
BACKEND_ORT = "onnxruntime"
BACKENDS = (BACKEND_ENGINE, BACKEND_ORT)
# Source.under_test: what a commit of the source repository changes. "engine": the
# commit's own engine ran the benchmark (roofwatch watching itself); "model": this
# agent's engine ran the model file as it is at that commit (a project whose product is
# the model). "" in reports without a project job (left out of the JSON).
UNDER_TEST_ENGINE, UNDER_TEST_MODEL = "engine", "model"
UNDER_TEST = ("", UNDER_TEST_ENGINE, UNDER_TEST_MODEL)
ENGINE_VERSION_MAX_LENGTH = 100  # Source.engine_version
# Keys a report leaves out while they hold their default, so that engine reports read
# exactly as before these fields existed: (section, field, default).
OMITTED_AT_DEFAULT = (("config", "backend", BACKEND_ENGINE), ("config", "runtime", None),
                      ("layers", "work_unknown", None), ("source", "under_test", ""),
                      ("source", "engine_version", ""))


@dataclass(frozen=True)
class TimeStats:
    """Seconds per execution over `n` timed repeats. `ci_low`/`ci_high`: the
    CONFIDENCE interval of the median, distribution-free (order statistics);
    None in reports from before it was measured, or with too few repeats."""

    median: float
    p25: float
    p75: float
    min: float
    n: int
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class Roof:
    """This machine's roofs under one thread count: peak float32 GFLOP/s,
    streaming-copy GB/s, and random-row gather GB/s by row size in bytes
    (JSON keys are strings: {"64": 1.9, "256": 6.3, ...})."""

    threads: int
    gflops: float
    gbs: float
    gather_gbs: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Machine:
    fingerprint: str
    hostname: str
    cpu_model: str
    cores: int
    memory_bytes: int
    os: str
    python: str
    numpy: str
    blas: str
    peak_gflops: float  # the stream roofs under the run's thread count
    peak_gbs: float
    # Every thread count's roofs (1 and the run's), gather included; empty in old reports.
    roofs: list[Roof] = field(default_factory=list)


@dataclass(frozen=True)
class Benchmark:
    model: str
    model_version: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    passes: list[str] = field(default_factory=list)
    quant: str = "none"
    threads: int | None = None
    flags: dict[str, Any] = field(default_factory=dict)
    # Fault injection ("compute:LAYER:FACTOR", "bandwidth:LAYER:FACTOR"); empty in
    # real runs. Analysis must never read it: it exists to prove detection works.
    inject: list[str] = field(default_factory=list)
    # --target-ci: repeat until the end-to-end median's CONFIDENCE interval is
    # within this percent of it (half-width over median), or `budget_s` runs out.
    target_ci: float | None = None
    budget_s: float | None = None
    # One of BACKENDS; left out of the JSON for the engine (OMITTED_AT_DEFAULT).
    backend: str = BACKEND_ENGINE
    # A backend other than the engine: its name, version and session options
    # (graph optimization level, intra-/inter-op threads, execution mode, providers);
    # None (left out) for the engine.
    runtime: dict[str, Any] | None = None


@dataclass(frozen=True)
class Source:
    repository: str = ""
    commit: str = ""
    branch: str = ""
    commit_time: str | None = None  # ISO 8601
    ci_url: str | None = None
    under_test: str = ""  # one of UNDER_TEST, set by the agent for a project's jobs
    # The engine that ran it: the commit itself when the engine is under test, else
    # "roofwatch <version>" (and its checkout's commit) of the agent's own engine.
    engine_version: str = ""


@dataclass(frozen=True)
class Layer:
    name: str
    op: str
    index: int
    sources: list[str]
    # flops/bytes and what follows from them (gflops, gbs, ai, bound) are None exactly
    # when `work_unknown` says why the work cannot be known (never guessed); only a
    # backend other than the engine reports such layers.
    flops: int | None
    bytes: int | None
    time: TimeStats
    gflops: float | None
    gbs: float | None
    ai: float | None  # arithmetic intensity, FLOPs per byte
    bound: str | None  # one of BOUNDS
    # The roofs this layer is judged against (None in old reports: then the
    # machine's peak_gflops/peak_gbs): the threads its kernel really runs on,
    # and which bandwidth roof (ROOF_KINDS) at what GB/s.
    threads: int | None = None
    roof: str | None = None
    roof_gflops: float | None = None
    roof_gbs: float | None = None
    # What the kernel really moves where that is more than `bytes`, the minimum
    # traffic (weights converted on every call, an im2col buffer, materialized
    # attention scores); None where the kernel moves just the minimum.
    kernel_bytes: int | None = None
    # Why flops and bytes are None (an op with no engine formula, a node onnxruntime
    # added, work its fused nodes do not split); None (left out) when they are known.
    work_unknown: str | None = None


@dataclass(frozen=True)
class Accuracy:
    """A quantized run's accuracy delta against the fp32 model on held-out
    synthetic inputs (engine.quant.accuracy). `agreement` is None exactly when
    `metric` is "none"; `fp32_layers` are the quantizable layers kept in fp32
    (--quant-fp32); `calibration` is the method of int8-static, else None."""

    samples: int
    max_abs_error: float
    mean_abs_error: float
    metric: str  # one of ACCURACY_METRICS
    agreement: float | None
    fp32_layers: list[str] = field(default_factory=list)
    calibration: str | None = None  # one of CALIBRATION_METHODS
    reference: str = "fp32"


@dataclass(frozen=True)
class Report:
    idempotency_key: str
    machine: Machine
    benchmark: Benchmark
    config: Config
    source: Source
    started_at: str  # ISO 8601, UTC
    warmup: int
    repeats: int
    end_to_end: TimeStats
    layers: list[Layer]
    # End-to-end time with per-layer timing over time without, minus 1 (0.02 = 2%);
    # None when the engine did not measure it.
    profiler_overhead: float | None = None
    # How quiet the machine was, recorded by the agent around the run: 1/5/15-minute
    # load averages before the quiet wait, at the start and after the run, the load
    # limit, whether it was met, seconds waited, CPU pinning, the CPU frequency
    # governor (`cpu_governor`, at most CPU_GOVERNOR_MAX_LENGTH characters) and
    # `turbo` (both null where sysfs does not say). None without an agent.
    conditions: dict[str, Any] | None = None
    # None for an fp32 run (config.quant "none"); a report without the key reads as None.
    accuracy: Accuracy | None = None
    # Minor page faults during the timed passes (after warmup): 0 in a steady
    # state. None where the engine did not count them.
    timed_page_faults: int | None = None
    # One of PURPOSES; a report without the key is an ordinary run ("").
    purpose: str = ""
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for section, key, default in OMITTED_AT_DEFAULT:
            for part in d[section] if isinstance(d[section], list) else [d[section]]:
                if part.get(key, default) == default:
                    part.pop(key, None)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Report":
        if d.get("schema") != SCHEMA:
            raise ValueError(f"schema: expected {SCHEMA!r}, got {d.get('schema')!r}")
        layers = [Layer(**{**ly, "time": TimeStats(**ly["time"])}) for ly in d["layers"]]
        machine = dict(d["machine"])
        machine["roofs"] = [Roof(**r) for r in machine.get("roofs") or []]
        return cls(
            idempotency_key=d["idempotency_key"],
            machine=Machine(**machine),
            benchmark=Benchmark(**d["benchmark"]),
            config=Config(**d["config"]),
            source=Source(**d["source"]),
            started_at=d["started_at"],
            warmup=d["warmup"],
            repeats=d["repeats"],
            end_to_end=TimeStats(**d["end_to_end"]),
            layers=layers,
            profiler_overhead=d.get("profiler_overhead"),
            conditions=d.get("conditions"),
            accuracy=Accuracy(**d["accuracy"]) if d.get("accuracy") is not None else None,
            timed_page_faults=d.get("timed_page_faults"),
            purpose=d.get("purpose") or "",
        )
