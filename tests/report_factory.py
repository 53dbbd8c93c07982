"""Valid run reports (schema roofwatch.run/1) for tests of any part.

    make_report()                                  # 4-layer MLP on machine "fp-test-1"
    make_report(layers=6, time_scale=1.3)          # 30% slower everywhere
    make_report(source={"branch": "dev"})          # one field of a section changed
    make_report(idempotency_key=key, started_at="2025-01-02T00:00:00+00:00")
    make_report(fidelity=True)                     # CIs, per-thread roofs, layer roofs, page faults
    old_report(make_report())                      # as an engine from before those fields wrote it

Built from the engine.report dataclasses with consistent numbers: an MLP of
alternating Linear and Relu layers at fp32, FLOPs counting a multiply-add as 2,
bytes as inputs + weights + outputs, times from this machine's roofline at half
the attainable rate, and gflops / gbs / ai / bound derived from those.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from engine.report import Benchmark, Config, Layer, Machine, Report, Roof, Source, TimeStats

FP32 = 4  # bytes per value
IN_FEATURES = 512
HIDDEN = 256
EFFICIENCY = 0.5  # share of the roofline the fake layers reach
DEFAULT_REPOSITORY = "https://github.com/example/roofwatch-models"
# fidelity=True: the 1-thread roofs and the gather GB/s by row size (bytes) next to the run's.
ONE_THREAD_GFLOPS, ONE_THREAD_GBS = 95.0, 14.0
GATHER_GBS = {"64": 1.9, "256": 6.3, "1024": 11.0}
GATHER_ROW = "256"  # the row size a fidelity=True Relu is judged at


def make_machine(fingerprint: str = "fp-test-1", **fields: Any) -> Machine:
    """The machine section: 2 Zen 4 cores with the peaks measured on the project's machines."""
    values = {
        "fingerprint": fingerprint,
        "hostname": f"host-{fingerprint}",
        "cpu_model": "AMD EPYC 9R14 96-Core Processor",
        "cores": 2,
        "memory_bytes": 8 * 2**30,
        "os": "Linux-6.8.0-x86_64-with-glibc2.39",
        "python": "3.11.9",
        "numpy": "2.1.3",
        "blas": "scipy-openblas 0.3.27",
        "peak_gflops": 180.0,
        "peak_gbs": 23.0,
    }
    return Machine(**{**values, **fields})


def _stats(median: float, n: int, ci: bool = False) -> TimeStats:
    interval = {"ci_low": median * 0.985, "ci_high": median * 1.02} if ci else {}
    return TimeStats(median=median, p25=median * 0.97, p75=median * 1.04, min=median * 0.95, n=n, **interval)


def roofs(machine: Machine) -> list[Roof]:
    """machine.roofs of a fidelity=True report: 1 thread and the machine's cores."""
    return [
        Roof(threads=1, gflops=ONE_THREAD_GFLOPS, gbs=ONE_THREAD_GBS, gather_gbs={k: v / 2 for k, v in GATHER_GBS.items()}),
        Roof(threads=machine.cores, gflops=machine.peak_gflops, gbs=machine.peak_gbs, gather_gbs=dict(GATHER_GBS)),
    ]


def achieved(flops: int, nbytes: int, median: float, ridge: float) -> dict[str, Any]:
    """A layer's derived fields: GFLOP/s, GB/s, arithmetic intensity and bound."""
    ai = flops / nbytes
    return {"gflops": flops / median / 1e9, "gbs": nbytes / median / 1e9, "ai": ai,
            "bound": "compute" if ai >= ridge else "bandwidth"}


def layer_roofs(op: str, machine: Machine) -> dict[str, Any]:
    """A fidelity=True layer's own roofs, on all cores: a Linear against the stream
    roof, moving twice its minimum bytes (weights converted on every call); a Relu
    against the gather roof at GATHER_ROW-byte rows."""
    roof = {"threads": machine.cores, "roof": "stream", "roof_gflops": machine.peak_gflops,
            "roof_gbs": machine.peak_gbs}
    return roof if op == "Linear" else {**roof, "roof": "gather", "roof_gbs": GATHER_GBS[GATHER_ROW]}


def make_layers(count: int, machine: Machine, batch: int, repeats: int, time_scale: float = 1.0,
                fidelity: bool = False) -> list[Layer]:
    """`count` layers fc0, relu0, fc1, relu1, ...; a Relu works on the Linear before it.
    fidelity=True: each layer carries its CI, its own roofs (layer_roofs), and a
    Linear its kernel bytes; times and bounds follow those roofs."""
    layers = []
    for index in range(count):
        block = index // 2
        if index % 2 == 0:
            fan_in = IN_FEATURES if block == 0 else HIDDEN
            name, op = f"fc{block}", "Linear"
            flops = 2 * batch * fan_in * HIDDEN
            nbytes = FP32 * (batch * fan_in + fan_in * HIDDEN + HIDDEN + batch * HIDDEN)
        else:
            name, op = f"relu{block}", "Relu"
            flops = batch * HIDDEN
            nbytes = FP32 * 2 * batch * HIDDEN
        own = layer_roofs(op, machine) if fidelity else {}
        peak_gflops, peak_gbs = own.get("roof_gflops", machine.peak_gflops), own.get("roof_gbs", machine.peak_gbs)
        attainable_gflops = min(peak_gflops, flops / nbytes * peak_gbs)
        median = flops / (attainable_gflops * 1e9 * EFFICIENCY) * time_scale
        if fidelity and op == "Linear":
            own["kernel_bytes"] = 2 * nbytes
        layers.append(Layer(name=name, op=op, index=index, sources=[name], flops=flops, bytes=nbytes,
                            time=_stats(median, repeats, ci=fidelity),
                            **achieved(flops, nbytes, median, peak_gflops / peak_gbs), **own))
    return layers


# The keys a report from before the measurement-fidelity fields lacks (engine commit ede336a added them).
NEW_TIME_KEYS = ("ci_low", "ci_high")
NEW_LAYER_KEYS = ("threads", "roof", "roof_gflops", "roof_gbs", "kernel_bytes")


def old_report(report: dict[str, Any]) -> dict[str, Any]:
    """`report` without the optional keys older engines did not write (it stays valid)."""
    old = json.loads(json.dumps(report))
    old.pop("timed_page_faults", None)
    old["machine"].pop("roofs", None)
    for key in ("target_ci", "budget_s"):
        old["config"].pop(key, None)
    for stats in [old["end_to_end"], *(layer["time"] for layer in old["layers"])]:
        for key in NEW_TIME_KEYS:
            stats.pop(key, None)
    for layer in old["layers"]:
        for key in NEW_LAYER_KEYS:
            layer.pop(key, None)
    return old


def _iso(value: datetime | str) -> str:
    return value if isinstance(value, str) else value.astimezone(timezone.utc).isoformat()


def make_report(
    fingerprint: str = "fp-test-1",
    model: str = "mlp",
    layers: int = 4,
    commit: str = "abc123",
    *,
    branch: str = "main",
    started_at: datetime | str | None = None,
    time_scale: float = 1.0,
    batch: int = 64,
    repeats: int = 20,
    fidelity: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """A valid report dict with a fresh uuid4 idempotency_key.

    started_at defaults to now (UTC); time_scale multiplies every time (and so
    divides gflops/gbs). `overrides` are top-level report keys: a dict value is
    merged into that section (machine, benchmark, config, source, end_to_end),
    anything else replaces the key. Machine overrides are applied before the
    layers are derived, so other peaks give consistent bounds. fidelity=True
    fills the optional measurement-fidelity fields (CIs, machine.roofs, each
    layer's threads and roofs, kernel bytes, target CI and timed page faults).
    """
    machine_fields = overrides.pop("machine", {})
    machine = make_machine(fingerprint, **machine_fields)
    if fidelity and "roofs" not in machine_fields:
        machine = make_machine(fingerprint, **{**machine_fields, "roofs": roofs(machine)})
    start = datetime.now(timezone.utc) if started_at is None else started_at
    start_iso = _iso(start)
    commit_time = (datetime.fromisoformat(start_iso) - timedelta(hours=1)).isoformat()
    built = make_layers(layers, machine, batch, repeats, time_scale, fidelity)
    shapes = json.dumps([[layer.op, layer.flops, layer.bytes] for layer in built])
    e2e = sum(layer.time.median for layer in built) * 1.08  # plus framework overhead
    report = Report(
        idempotency_key=str(uuid.uuid4()),
        machine=machine,
        benchmark=Benchmark(
            model=model,
            model_version=hashlib.sha256(f"{model}:{shapes}".encode()).hexdigest()[:16],
            params={"batch_size": batch},
        ),
        config=Config(passes=["constant_folding", "fuse_bias_activation"], quant="none", threads=machine.cores,
                      **({"target_ci": 1.0, "budget_s": 30.0} if fidelity else {})),
        source=Source(repository=DEFAULT_REPOSITORY, commit=commit, branch=branch, commit_time=commit_time),
        started_at=start_iso,
        warmup=3,
        repeats=repeats,
        end_to_end=_stats(e2e, repeats, ci=fidelity),
        layers=built,
        timed_page_faults=0 if fidelity else None,
    ).to_dict()
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(report.get(key), dict):
            report[key] = {**report[key], **value}
        else:
            report[key] = value
    return report
