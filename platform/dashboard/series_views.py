"""The series page and the JSON it draws (/dash-api/series/)."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.access import read_page
from engine.report import END_TO_END
from results.models import Benchmark, Series
from results.series import MAX_POINTS, METRICS, TIME_METRICS

from .series_data import DEFAULT_MAX_POINTS, OVERLAY_ENVIRONMENTS, page_series


@read_page
def series_page(request: HttpRequest) -> HttpResponse:
    try:
        benchmark = Benchmark.objects.select_related("project").get(pk=int(request.GET.get("benchmark", "")))
    except (ValueError, Benchmark.DoesNotExist):
        raise Http404("No such benchmark: give ?benchmark=<id> of a benchmark that has runs.") from None
    layer = request.GET.get("layer") or END_TO_END
    metric = request.GET.get("metric") or "median"
    if metric not in METRICS:
        raise Http404(f"Unknown metric {metric!r}.")
    layers = list(
        Series.objects.filter(benchmark=benchmark).order_by("index", "layer").values_list("layer", "op").distinct()
    )
    seen, choices = set(), []
    for name, op in layers:
        if name not in seen:
            seen.add(name)
            choices.append((name, op))
    choices.sort(key=lambda item: item[0] != END_TO_END)
    try:  # ?max_points= asks for more (or fewer) points per machine than the default
        max_points = min(max(int(request.GET.get("max_points") or DEFAULT_MAX_POINTS), 3), MAX_POINTS)
    except ValueError:
        max_points = DEFAULT_MAX_POINTS
    metrics = list(TIME_METRICS) if layer == END_TO_END else list(METRICS)
    # The same benchmark in its other environments (asv's env_name): pick one, or overlay them all.
    environments = list(benchmark.in_every_environment().values_list("pk", "environment"))
    overlay = len(environments) > 1 and request.GET.get("overlay") == OVERLAY_ENVIRONMENTS
    return render(request, "dashboard/series_page.html", {
        "benchmark": benchmark, "layer": layer, "metric": metric, "layers": choices, "metrics": metrics,
        "environments": environments if len(environments) > 1 else [], "overlay": overlay,
        "config": {"dataUrl": reverse("dashboard:series-data"), "benchmark": benchmark.pk, "layer": layer,
                   "metric": metric, "maxPoints": max_points, "overlay": OVERLAY_ENVIRONMENTS if overlay else ""},
    })


@extend_schema(exclude=True)  # the series page's own data, not part of the public API
class SeriesDataView(APIView):
    """GET /dash-api/series/?benchmark=<id>&layer=<name>&metric=&since=&until=&max_points=&machine=&overlay="""


    def get(self, request):
        return Response(page_series(request.query_params))
