"""The overview's benchmarks and their sparklines (/dash-api/sparklines/): the
end-to-end median of each benchmark's recent runs, one line per machine.

Both read the Series catalogue (small: one row per machine and benchmark end to
end) and the run_series index (machine, benchmark, started_at), so they cost
the same however many runs are stored.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.report import END_TO_END
from core.query import parse_int
from results.models import Run, Series

SPARK_RUNS = 30  # runs in a benchmark's sparkline, by default
MAX_SPARK_RUNS = 200
SPARK_MACHINES = 4  # lines in it
BENCHMARKS_SHOWN = 24


def recent_benchmarks() -> list[list[Series]]:
    """The BENCHMARKS_SHOWN benchmarks with the newest runs, newest first; for
    each, its end-to-end series on the SPARK_MACHINES machines that ran it last."""
    catalogue = Series.objects.filter(layer=END_TO_END).select_related("benchmark__project", "machine").order_by("-last")
    by_benchmark: dict[int, list[Series]] = {}
    for series in catalogue:
        if series.benchmark_id in by_benchmark or len(by_benchmark) < BENCHMARKS_SHOWN:
            by_benchmark.setdefault(series.benchmark_id, []).append(series)
    return [group[:SPARK_MACHINES] for group in by_benchmark.values()]


def _newest_runs_first(series: Series):
    return Run.objects.in_series().filter(machine_id=series.machine_id, benchmark_id=series.benchmark_id).order_by(
        "-started_at", "-id"
    )


def latest_per_benchmark() -> list[dict]:
    """The overview's table: each recent benchmark with its latest run (one query per benchmark)."""
    rows = []
    for group in recent_benchmarks():
        for series in group:  # newest first: the first that still has runs holds the latest
            latest = _newest_runs_first(series).values("id", "median", "started_at").first()
            if latest is not None:
                rows.append({"benchmark": series.benchmark, "latest": {**latest, "machine": series.machine},
                             "spark_id": f"spark-{series.benchmark_id}"})
                break
    return rows


def sparklines(params: Mapping[str, str]) -> dict[str, Any]:
    """?runs=<n>: per benchmark of the overview, per machine, the end-to-end
    medians (ms) of its last n runs there, oldest first."""
    runs = parse_int("runs", params["runs"], 2, MAX_SPARK_RUNS) if params.get("runs") else SPARK_RUNS
    benchmarks = []
    for group in recent_benchmarks():
        machines = []
        for series in group:
            recent = list(_newest_runs_first(series).values_list("median", flat=True)[:runs])
            if recent:
                machines.append({"name": series.machine.name, "medians_ms": [median * 1e3 for median in reversed(recent)]})
        if machines:
            benchmarks.append({"benchmark": group[0].benchmark_id, "machines": machines})
    return {"runs": runs, "benchmarks": benchmarks}
