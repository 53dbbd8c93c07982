"""Dashboard pages. Thin: query, hand to the presentation helpers, render."""
import logging

from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render

from core.access import read_page
from results.models import BOUND_CHOICES, LayerMeasurement, Run, prefetch_layers

from .layer_table import layer_rows
from .roofline import roof_lines, run_threads

RUNS_PER_PAGE = 50
TOP_N = 15  # bars of the run page's default chart; the rest are summed into one

logger = logging.getLogger(__name__)


@read_page
def run_list(request: HttpRequest) -> HttpResponse:
    # A correlated subquery, not a JOIN + GROUP BY: the database counts layers
    # only for the page of runs it returns, not for the whole measurement table.
    layer_count = (
        # started_at too: PostgreSQL then reads only the run's monthly partition.
        LayerMeasurement.objects.filter(run=OuterRef("pk"), started_at=OuterRef("started_at"))
        .order_by()
        .values("run")
        .annotate(count=Count("*"))
        .values("count")
    )
    runs = (
        Run.objects.select_related("machine", "benchmark", "benchmark__project")
        .annotate(layer_count=Subquery(layer_count, output_field=IntegerField()))
        .order_by("-started_at", "-id")
    )
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "dashboard/run_list.html", {"page": page, "runs": page.object_list})


@read_page
def run_page(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.select_related("machine", "benchmark", "benchmark__project"), pk=run_id)
    prefetch_layers(run)
    layers = run.layers.all()
    rows = layer_rows(layers, run.peak_gflops, run.peak_gbs)
    threads = run_threads(run.config, run.roofs, run.peak_gflops, run.peak_gbs)
    lines = roof_lines(run.peak_gflops, run.peak_gbs, run.roofs, threads, layers)
    previous = (
        Run.objects.in_series().filter(machine_id=run.machine_id, benchmark_id=run.benchmark_id)
        .filter(Q(started_at__lt=run.started_at) | Q(started_at=run.started_at, id__lt=run.id))
        .order_by("-started_at", "-id").values_list("id", flat=True).first()
    )
    context = {
        "run": run,
        "machine": run.machine,
        "benchmark": run.benchmark,
        "rows": rows,
        "roof_lines": lines,
        "roof_lines_json": [line.as_json() for line in lines],  # what run.js draws
        "other_roofs": [roof for roof in run.roofs or [] if roof.get("threads") != threads],
        "run_roof": next((roof for roof in run.roofs or [] if roof.get("threads") == threads), None),
        "run_threads": threads,
        "above_roof_count": sum(1 for row in rows if row.above_roof),
        "work_unknown_count": sum(1 for row in rows if row.work_unknown),
        "previous_run": previous,
        "top_n": TOP_N,
        "layer_time_ms": sum(row.median_ms for row in rows),
        "bound_counts": {b: sum(1 for row in rows if row.bound == b) for b, _ in BOUND_CHOICES},
    }
    return render(request, "dashboard/run_page.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and the container HEALTHCHECK: the app is
    up and its database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.error("healthz: database unreachable: %s", exc)
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})
