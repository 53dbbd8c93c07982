"""Machines: the fleet list, and one machine's specs, peaks, noise and runs."""
from __future__ import annotations

import statistics

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from core.access import read_page
from fleet.models import Machine
from results.models import Run

from .fleet_health import fleet_health, state_of

RECENT_RUNS = 50


def noise_by_benchmark(runs: list[Run]) -> list[dict]:
    """Per benchmark over the recent runs, in percent: the within-run spread
    (median of (p75 - p25) / median) and the run-to-run spread (median of the
    relative change between consecutive runs, which a single step barely
    moves). A noisy machine needs bigger changes to alert."""
    groups: dict[int, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.benchmark_id, []).append(run)
    rows = []
    for group in groups.values():
        group = sorted(group, key=lambda r: (r.started_at, r.id))
        medians = [r.median for r in group if r.median > 0]
        within = statistics.median((r.p75 - r.p25) / r.median * 100 for r in group if r.median > 0) if medians else None
        steps = [abs(b / a - 1) * 100 for a, b in zip(medians, medians[1:])]
        between = statistics.median(steps) if len(steps) >= 3 else None
        rows.append({"benchmark": group[0].benchmark, "runs": len(group), "within_pct": within,
                     "between_pct": between})
    return rows


@read_page
def machine_list(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/machine_list.html", {"fleet": fleet_health()})


@read_page
def machine_detail(request: HttpRequest, name: str) -> HttpResponse:
    machine = get_object_or_404(Machine, name=name)
    # Its series runs (noise is measured over them); a bisection's runs at old commits are in the run list.
    runs = list(
        Run.objects.in_series().filter(machine=machine).select_related("benchmark__project")
        .order_by("-started_at", "-id")[:RECENT_RUNS]
    )
    return render(request, "dashboard/machine_detail.html", {
        "machine": machine,
        "state": state_of(machine, timezone.now()),
        "runs": runs,
        "noise": noise_by_benchmark(runs),
        "run_count": Run.objects.filter(machine=machine).count(),
    })
