"""The overview: what needs attention now (open alert summaries), whether the
fleet is reporting, and the latest run of each benchmark with its trend (the
sparklines load from /dash-api/sparklines/)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.access import read_page

from .fleet_health import fleet_health
from .sparklines import SPARK_RUNS, latest_per_benchmark, sparklines
from .summaries import open_cards


@read_page
def overview(request: HttpRequest) -> HttpResponse:
    cards = open_cards()
    fleet = fleet_health()
    benchmarks = latest_per_benchmark()
    context = {
        "cards": cards,
        "fleet": fleet,
        "benchmarks": benchmarks,
        "spark_runs": SPARK_RUNS,
        "counts": {
            "open": len(cards),
            "machines": len(fleet),
            "healthy": sum(1 for m in fleet if m.state == "ok"),
            "runs_24h": sum(m.runs_24h for m in fleet),
        },
    }
    return render(request, "dashboard/overview.html", context)


@extend_schema(exclude=True)  # the overview's own data, not part of the public API
class SparklinesView(APIView):
    """GET /dash-api/sparklines/?runs=<n>"""


    def get(self, request):
        return Response(sparklines(request.query_params))
