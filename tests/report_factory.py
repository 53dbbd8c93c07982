"""Valid run reports (schema roofwatch.run/1) for tests of any part.

    make_report()                                  # 4-layer MLP on machine "fp-test-1"
    make_report(layers=6, time_scale=1.3)          # 30% slower everywhere
    make_report(source={"branch": "dev"})          # one field of a section changed
    make_report(idempotency_key=key, started_at="2025-01-02T00:00:00+00:00")

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

from engine.report import Benchmark, Config, Layer, Machine, Report, Source, TimeStats

FP32 = 4  # bytes per value
IN_FEATURES = 512
HIDDEN = 256
EFFICIENCY = 0.5  # share of the roofline the fake layers reach
DEFAULT_REPOSITORY = "https://github.com/example/roofwatch-models"


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


def _stats(median: float, n: int) -> TimeStats:
    return TimeStats(median=median, p25=median * 0.97, p75=median * 1.04, min=median * 0.95, n=n)


def achieved(flops: int, nbytes: int, median: float, ridge: float) -> dict[str, Any]:
    """A layer's derived fields: GFLOP/s, GB/s, arithmetic intensity and bound."""
    ai = flops / nbytes
    return {"gflops": flops / median / 1e9, "gbs": nbytes / median / 1e9, "ai": ai,
            "bound": "compute" if ai >= ridge else "bandwidth"}


def make_layers(count: int, machine: Machine, batch: int, repeats: int, time_scale: float = 1.0) -> list[Layer]:
    """`count` layers fc0, relu0, fc1, relu1, ...; a Relu works on the Linear before it."""
    ridge = machine.peak_gflops / machine.peak_gbs
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
        attainable_gflops = min(machine.peak_gflops, flops / nbytes * machine.peak_gbs)
        median = flops / (attainable_gflops * 1e9 * EFFICIENCY) * time_scale
        layers.append(Layer(name=name, op=op, index=index, sources=[name], flops=flops, bytes=nbytes,
                            time=_stats(median, repeats), **achieved(flops, nbytes, median, ridge)))
    return layers


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
    **overrides: Any,
) -> dict[str, Any]:
    """A valid report dict with a fresh uuid4 idempotency_key.

    started_at defaults to now (UTC); time_scale multiplies every time (and so
    divides gflops/gbs). `overrides` are top-level report keys: a dict value is
    merged into that section (machine, benchmark, config, source, end_to_end),
    anything else replaces the key. Machine overrides are applied before the
    layers are derived, so other peaks give consistent bounds.
    """
    machine = make_machine(fingerprint, **overrides.pop("machine", {}))
    start = datetime.now(timezone.utc) if started_at is None else started_at
    start_iso = _iso(start)
    commit_time = (datetime.fromisoformat(start_iso) - timedelta(hours=1)).isoformat()
    built = make_layers(layers, machine, batch, repeats, time_scale)
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
        config=Config(passes=["constant_folding", "fuse_bias_activation"], quant="none", threads=machine.cores),
        source=Source(repository=DEFAULT_REPOSITORY, commit=commit, branch=branch, commit_time=commit_time),
        started_at=start_iso,
        warmup=3,
        repeats=repeats,
        end_to_end=_stats(e2e, repeats),
        layers=built,
    ).to_dict()
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(report.get(key), dict):
            report[key] = {**report[key], **value}
        else:
            report[key] = value
    return report
