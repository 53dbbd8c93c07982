"""Compare two runs: /compare/?before=<run id>&after=<run id>."""
from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from results.models import LayerMeasurement, Run

from . import compare
from .access import read_page


def _run(request: HttpRequest, name: str) -> Run:
    value = request.GET.get(name, "")
    runs = Run.objects.select_related("machine", "benchmark__project").prefetch_related(
        Prefetch("layers", queryset=LayerMeasurement.objects.order_by("index"))
    )
    try:
        return runs.get(pk=int(value))
    except (ValueError, Run.DoesNotExist):
        raise Http404(f"?{name}= must be the id of a stored run; got {value!r}.") from None


@read_page
def compare_runs(request: HttpRequest) -> HttpResponse:
    before, after = _run(request, "before"), _run(request, "after")
    deltas = compare.layer_deltas(before, after)
    e2e_pct = (after.median / before.median - 1) * 100 if before.median > 0 else None
    return render(request, "dashboard/compare.html", {
        "before": before, "after": after, "deltas": deltas, "e2e_pct": e2e_pct,
        "chart_data": compare.chart_data(deltas),
        "roof": {"peak_gflops": after.peak_gflops or before.peak_gflops, "peak_gbs": after.peak_gbs or before.peak_gbs},
        "same_benchmark": before.benchmark_id == after.benchmark_id,
    })
