"""Compare two runs: /compare/?before=<run id>&after=<run id>, and the roofline
data its chart draws, /dash-api/compare/ with the same parameters."""
from __future__ import annotations

from collections.abc import Mapping

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.access import read_page
from core.query import parse_int
from results.models import Run, prefetch_layers
from results.series import MAX_ID

from . import compare


def _stored_run(run_id: int) -> Run | None:
    """The run with its machine, project and layers; each run's layers are read
    on their own, so each query touches one monthly partition."""
    run = Run.objects.select_related("machine", "benchmark__project").filter(pk=run_id).first()
    if run is not None:
        prefetch_layers(run)
    return run


def _run(request: HttpRequest, name: str) -> Run:
    value = request.GET.get(name, "")
    run = _stored_run(int(value)) if value.isascii() and value.isdigit() and int(value) <= MAX_ID else None
    if run is None:
        raise Http404(f"?{name}= must be the id of a stored run; got {value!r}.")
    return run


@read_page
def compare_runs(request: HttpRequest) -> HttpResponse:
    before, after = _run(request, "before"), _run(request, "after")
    deltas = compare.layer_deltas(before, after)
    e2e_pct = (after.median / before.median - 1) * 100 if before.median > 0 else None
    return render(request, "dashboard/compare.html", {
        "before": before, "after": after, "deltas": deltas, "e2e_pct": e2e_pct,
        "same_benchmark": before.benchmark_id == after.benchmark_id,
        "by_sources": compare.matched_by_sources(before, after),
        "before_backend": compare.backend(before), "after_backend": compare.backend(after),
        "same_model": compare.same_model(before, after),
    })


def _api_run(params: Mapping[str, str], name: str) -> Run:
    if not params.get(name):
        raise ValidationError({name: ["Required: a run id."]})
    run_id = parse_int(name, params[name], 1, MAX_ID)
    run = _stored_run(run_id)
    if run is None:
        raise NotFound(f"No run with id {run_id} (?{name}=).")
    return run


@extend_schema(exclude=True)  # the compare page's own data, not part of the public API
class CompareDataView(APIView):
    """GET /dash-api/compare/?before=<run id>&after=<run id>"""


    def get(self, request):
        before, after = _api_run(request.query_params, "before"), _api_run(request.query_params, "after")
        deltas = compare.layer_deltas(before, after)
        return Response({"before": before.pk, "after": after.pk, "peaks": compare.peaks(before, after),
                         "matched_by": "sources" if compare.matched_by_sources(before, after) else "name",
                         "layers": compare.chart_data(deltas)})
