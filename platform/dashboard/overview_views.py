"""The overview: what needs attention now (open alert summaries), whether the
fleet is reporting, and the latest run of each benchmark with its trend."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from engine.report import END_TO_END
from results.models import Run, Series

from .access import read_page
from .fleet_health import fleet_health
from .summaries import open_cards

SPARK_RUNS = 30  # runs in a benchmark's sparkline
SPARK_MACHINES = 4  # lines in it
BENCHMARKS_SHOWN = 24


def latest_per_benchmark() -> list[dict]:
    """Benchmarks by their latest run, newest first: that run and, per machine
    that ran the benchmark (the SPARK_MACHINES most recent), the end-to-end
    medians of its last SPARK_RUNS runs there.

    Read from the Series catalogue (small, one row per machine and benchmark
    end to end) and the run_series index (machine, benchmark, started_at), so
    it costs the same however many runs are stored."""
    catalogue = Series.objects.filter(layer=END_TO_END).select_related("benchmark__project", "machine").order_by("-last")
    by_benchmark: dict[int, list[Series]] = {}
    for series in catalogue:
        if series.benchmark_id in by_benchmark or len(by_benchmark) < BENCHMARKS_SHOWN:
            by_benchmark.setdefault(series.benchmark_id, []).append(series)
    rows = []
    for group in by_benchmark.values():
        lines, latest = [], None
        for series in group[:SPARK_MACHINES]:
            recent = list(
                Run.objects.filter(machine_id=series.machine_id, benchmark_id=series.benchmark_id)
                .order_by("-started_at", "-id").values("id", "median", "started_at")[:SPARK_RUNS]
            )
            if not recent:
                continue
            if latest is None:
                latest = {**recent[0], "machine": series.machine}
            lines.append([run["median"] * 1e3 for run in reversed(recent)])
        if latest is not None:
            benchmark = group[0].benchmark
            rows.append({"benchmark": benchmark, "latest": latest, "spark_id": f"spark-{benchmark.pk}", "spark": lines})
    return rows


@read_page
def overview(request: HttpRequest) -> HttpResponse:
    cards = open_cards()
    fleet = fleet_health()
    benchmarks = latest_per_benchmark()
    context = {
        "cards": cards,
        "fleet": fleet,
        "benchmarks": benchmarks,
        "sparks": {row["spark_id"]: row["spark"] for row in benchmarks},
        "counts": {
            "open": len(cards),
            "machines": len(fleet),
            "healthy": sum(1 for m in fleet if m.state == "ok"),
            "runs_24h": sum(m.runs_24h for m in fleet),
        },
    }
    return render(request, "dashboard/overview.html", context)
