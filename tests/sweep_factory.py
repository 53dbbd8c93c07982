"""Valid sweep reports (schema roofwatch.sweep/1) for platform tests, built
from engine.sweep.report's dataclasses with consistent numbers: a made-up
machine where a pass of `batch` samples takes 0.2 + batch / (40 x threads^0.8) ms
(a fixed cost per pass, so bigger batches give more throughput), x sqrt(instances) as instances share it, p99 is 1.3 x the median pass, and throughput is
instances x batch / pass time.

    make_sweep()                                    # 12 configurations of dlrm on "fp-test-1"
    make_sweep(slow={(1, 64, 2): 1.25})             # that (threads, batch, instances) 25% slower
    make_sweep(time_scale=1.02, commit="c7")
    make_sweep(rounds=3)                            # each configuration's 3 rounds 2% apart around it
                                                    # (rounds 1: no per-round lists, as before rounds)
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from engine.report import Source
from engine.sweep.grid import Grid
from engine.sweep.report import ConfigResult, SweepReport

GRID = Grid(threads=(1, 2), batch=(32, 64, 128), instances=(1, 2))
REPEATS = 20


def config_result(config, scale: float, rounds: int = 1) -> ConfigResult:
    median = (0.2 + config.batch / (40 * config.threads ** 0.8)) * config.instances ** 0.5 * scale  # ms per pass
    passes = REPEATS * config.instances
    throughput = config.instances * config.batch / median * 1e3
    spread = [1 + 0.02 * (k - (rounds - 1) / 2) for k in range(rounds)] if rounds > 1 else []  # around 1
    return ConfigResult(**config.to_dict(), status="ok", p25_ms=median * 0.97, p50_ms=median, p75_ms=median * 1.04,
                        p99_ms=median * 1.3, throughput=throughput, timed_passes=passes,
                        span_s=passes / config.instances * median / 1e3, faults_per_pass=0.0,
                        throughput_rounds=[throughput * f for f in spread],
                        p99_ms_rounds=[median * 1.3 / f for f in spread])


def make_sweep(*, fingerprint: str = "fp-test-1", model: str = "dlrm", commit: str = "c1",
               started_at: datetime | None = None, time_scale: float = 1.0,
               slow: dict[tuple[int, int, int], float] | None = None, mode: str = "grid",
               slo_p99_ms: float | None = None, repository: str = "https://github.com/example/roofwatch-models",
               grid: Grid = GRID, rounds: int = 1) -> dict[str, Any]:
    results = []
    for config in grid.configs():
        factor = (slow or {}).get((config.threads, config.batch, config.instances), 1.0)
        results.append(config_result(config, time_scale * factor, rounds))
    started = started_at or datetime(2026, 1, 1, tzinfo=timezone.utc)
    report = SweepReport(
        idempotency_key=str(uuid.uuid4()), started_at=started.isoformat(), mode=mode, model=model,
        params={"rows": 20000}, machine={"fingerprint": fingerprint, "hostname": "h", "cpu_model": "cpu", "cores": 2},
        knobs={"smt": {"value": False, "source": "/sys/devices/system/cpu/smt/active", "settable": False,
                       "how": "root"},
               "numa_nodes": {"value": 1, "source": "/sys/devices/system/node", "settable": False, "how": "bios"},
               "governor": {"value": None, "source": "not readable", "settable": False, "how": "root"}},
        source=Source(repository=repository, commit=commit, branch="main"), warmup=3, repeats=REPEATS,
        grid=grid.to_dict(), results=results, slo_p99_ms=slo_p99_ms, rounds=rounds)
    return report.to_dict()
