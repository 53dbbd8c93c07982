"""The sweep pages: the list of deployment sweeps, and one sweep's
throughput against p99 latency, a point per configuration, the Pareto front
highlighted and the best configuration under each SLO marked (drawn by
sweep.js from the points embedded in the page); measured in rounds, each
configuration's medians say over how many, with the throughput's range."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from engine.sweep.report import STATUS_OK, best_under_slo, pareto_front
from results.models import Sweep
from results.sweep_ingest import slos_of

LIST_LIMIT = 200


def sweep_list(request: HttpRequest) -> HttpResponse:
    sweeps = Sweep.objects.select_related("machine", "benchmark")[:LIST_LIMIT]
    return render(request, "dashboard/sweep_list.html", {"sweeps": sweeps, "limit": LIST_LIMIT})


def chart_points(sweep: Sweep, slo_list: list[float]) -> tuple[list[dict], list[dict]]:
    """Every configuration as the page shows it (measured ones with `pareto`
    and the SLOs they are best under), and the best under each SLO met."""
    points = list(sweep.points.all())
    measured = [p for p in points if p.status == STATUS_OK]
    xy = [(p.throughput, p.p99_ms) for p in measured]
    front = {measured[i].index for i in pareto_front(xy)}
    best: dict[int, list[float]] = {}
    bests = []
    for slo in slo_list:
        found = best_under_slo(xy, slo)
        if found is not None:
            point = measured[found]
            best.setdefault(point.index, []).append(slo)
            bests.append({"slo_p99_ms": slo, "index": point.index, "throughput": point.throughput,
                          "p99_ms": point.p99_ms})
    rows = [{**p.knobs(), "index": p.index, "status": p.status, "error": p.error, "cores": p.cores,
             "p50_ms": p.p50_ms, "p99_ms": p.p99_ms, "throughput": p.throughput,
             # a sweep from before rounds lists none: it measured each configuration once
             "rounds": len(p.throughput_rounds) or int(p.status == STATUS_OK),
             "throughput_min": min(p.throughput_rounds, default=None),
             "throughput_max": max(p.throughput_rounds, default=None),
             "pareto": p.index in front, "best_under": best.get(p.index, [])} for p in points]
    return rows, bests


def sweep_page(request: HttpRequest, sweep_id: int) -> HttpResponse:
    sweep = get_object_or_404(Sweep.objects.select_related("machine", "benchmark", "benchmark__project"),
                              pk=sweep_id)
    rows, bests = chart_points(sweep, slos_of(settings.ROOFWATCH_SLOS_P99_MS, sweep.slo_p99_ms))
    fixed = [name for name, knob in sweep.knobs.items() if not knob.get("settable")]
    return render(request, "dashboard/sweep_page.html", {
        "sweep": sweep, "machine": sweep.machine, "benchmark": sweep.benchmark, "rows": rows, "bests": bests,
        "chart": {"points": rows, "bests": bests}, "fixed_knobs": fixed,
        "measured_count": sum(1 for r in rows if r["status"] == STATUS_OK)})
