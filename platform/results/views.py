"""The results API: agents POST run reports; anyone may read runs, projects,
benchmarks and series for now."""
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApiErrorSerializer, error_responses, exception_handler
from core.openapi import id_parameter
from core.pagination import BoundedLimitOffsetPagination
from results.filters import (
    INSTANT_SCHEMA, ISO_EXAMPLE, RUN_PURPOSES, filter_exact, filter_purpose, filter_time_range,
)
from results.ingest import Outcome, ingest_report, ingest_reports
from results.models import Benchmark, Project, Run
from results.report_parser import decode_batch
from results.report_schema import MAX_BATCH_REPORTS, RawBatch, Report
from results.report_views import ReportViewSet
from results.run_serializers import (
    BatchResultSerializer,
    BenchmarkOutSerializer,
    IngestResultSerializer,
    ProjectOutSerializer,
    RunDetailSerializer,
    RunSummarySerializer,
    SeriesPointsSerializer,
    SeriesSerializer,
)
from results.series import (
    DEFAULT_POINTS,
    END_TO_END,
    MAX_POINTS,
    METRICS,
    PointsQuery,
    catalog_row,
    series_catalog,
    series_points,
)

# ?name=value filters of the run list and the Run lookups they apply.
RUN_FILTERS = {
    "machine": ("machine__name", "machine name"),
    "model": ("benchmark__model", "benchmark model name"),
    "commit": ("commit", "full commit id"),
    "branch": ("branch", "branch name"),
}
# ?name=<ISO 8601> bounds of started_at: started_after <= started_at < started_before.
RUN_TIME_RANGE = ("started_after", "started_before")

ERROR_RESPONSES = error_responses({
    400: "invalid report or malformed JSON",
    401: "missing, unknown or revoked token, or disabled machine",
    403: "the report's machine fingerprint is another machine's",
    409: "idempotency_key already stored with another payload",
    413: "body over ROOFWATCH_MAX_REPORT_BYTES",
})


@extend_schema_view(
    list=extend_schema(
        summary="Runs, newest first",
        parameters=[
            *(OpenApiParameter(name, str, description=f"exact {text}") for name, (_, text) in RUN_FILTERS.items()),
            OpenApiParameter("started_after", INSTANT_SCHEMA, description=f"started_at at or after this ({ISO_EXAMPLE})"),
            OpenApiParameter("started_before", INSTANT_SCHEMA, description=f"started_at before this ({ISO_EXAMPLE})"),
            OpenApiParameter("purpose", str, enum=["", *RUN_PURPOSES], description=(
                "series: runs in their series; bisect: a bisection's runs at old commits; any (the default, "
                "except with ?commit=, whose runs are its series runs: what gates the commit); empty: the default")),
        ],
    ),
    retrieve=extend_schema(summary="One run with its layers"),
    create=extend_schema(
        summary="Upload a run report (schema roofwatch.run/1)",
        request=Report,
        responses={201: IngestResultSerializer, 200: IngestResultSerializer, **ERROR_RESPONSES},
    ),
    batch=extend_schema(
        summary=f"Upload up to {MAX_BATCH_REPORTS} run reports at once",
        description=(
            "Each report is validated and checked on its own and answered in `results`, in upload order, with "
            "the status and body POST /api/v1/runs/ would give it (201, 200 for a replay, 400/403/409). Refused "
            "reports are not stored; the others are stored together in one transaction. Within one batch a "
            "repeated idempotency_key is a replay of its first report. The batch itself gets 200 when its "
            "envelope is right, 400 when it is not a {\"reports\": [...]} object of 1 to "
            f"{MAX_BATCH_REPORTS} items, 401 and 413 as for one report."
        ),
        request=RawBatch,
        responses={200: BatchResultSerializer, 400: ERROR_RESPONSES[400], 401: ERROR_RESPONSES[401],
                   413: ERROR_RESPONSES[413]},
    ),
)
class RunViewSet(ReportViewSet):
    uploads = ("create", "batch")
    summary_serializer_class = RunSummarySerializer
    detail_serializer_class = RunDetailSerializer

    def get_queryset(self) -> QuerySet[Run]:
        runs = Run.objects.select_related("machine", "benchmark__project")
        if self.action == "retrieve":
            return runs.prefetch_related("layers")
        params = self.request.query_params
        runs = filter_exact(runs, params, {name: lookup for name, (lookup, _) in RUN_FILTERS.items()})
        runs = filter_purpose(runs, params)
        return filter_time_range(runs, params, "started_at", *RUN_TIME_RANGE)

    def create(self, request, *args, **kwargs):
        run, created = ingest_report(request.data, request.auth)
        body = IngestResultSerializer({"id": run.pk, "url": run.get_absolute_url(), "created": created}).data
        return Response(
            body,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            headers={"Location": reverse("run-detail", args=[run.pk])},
        )

    @action(detail=False, methods=["post"])
    def batch(self, request, *args, **kwargs):
        outcomes = ingest_reports(decode_batch(request.data), request.auth)
        results = [self._batch_item(outcome) for outcome in outcomes]
        counts = {"created": 0, "replayed": 0, "refused": 0}
        for item in results:
            counts[{201: "created", 200: "replayed"}.get(item["status"], "refused")] += 1
        return Response({"results": results, **counts})

    def _batch_item(self, outcome: Outcome) -> dict:
        if outcome.error is not None:
            answer = exception_handler(outcome.error, {"view": self, "request": self.request})
            return {"status": answer.status_code, **answer.data}
        run = outcome.run
        return {"status": status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK, "id": run.pk,
                "url": run.get_absolute_url(), "created": outcome.created}


@extend_schema_view(list=extend_schema(summary="Projects by name"), retrieve=extend_schema(summary="One project"))
class ProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Project.objects.all()
    serializer_class = ProjectOutSerializer
    pagination_class = BoundedLimitOffsetPagination


@extend_schema_view(
    list=extend_schema(
        summary="Benchmarks (a model with one param set)",
        parameters=[
            OpenApiParameter("project", str, description="exact project name"),
            OpenApiParameter("model", str, description="exact model name"),
            OpenApiParameter("environment", str, description="exact environment (asv's env_name)"),
        ],
    ),
    retrieve=extend_schema(summary="One benchmark"),
)
class BenchmarkViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = BenchmarkOutSerializer
    pagination_class = BoundedLimitOffsetPagination

    def get_queryset(self):
        benchmarks = Benchmark.objects.select_related("project")
        if self.action == "list":
            benchmarks = filter_exact(
                benchmarks, self.request.query_params,
                {"project": "project__name", "model": "model", "environment": "environment"},
            )
        return benchmarks


@extend_schema(
    summary="The series that exist",
    description=(
        f'One item per (machine, benchmark, layer); layer "{END_TO_END}" is the whole model. '
        "Its points: GET the item's url with ?metric=."
    ),
    parameters=[
        OpenApiParameter("machine", str, description="exact machine name"),
        id_parameter("benchmark", "benchmark id"),
        OpenApiParameter("model", str, description="exact model name"),
        OpenApiParameter("environment", str, description="exact environment of the benchmark (asv's env_name)"),
    ],
    responses={200: SeriesSerializer(many=True), 400: ApiErrorSerializer},
)
class SeriesListView(generics.GenericAPIView):
    serializer_class = SeriesSerializer
    pagination_class = BoundedLimitOffsetPagination

    def get_queryset(self):
        return series_catalog(self.request.query_params)

    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer([catalog_row(row) for row in page], many=True).data)


@extend_schema(
    summary="The points of one series, oldest first",
    description=(
        f'`layer` is a layer name as in the run report, or "{END_TO_END}" for the whole model. The layer is the '
        "rest of the path, so names with '.' or '/' go as they are; percent-encode '?', '#' and '%'. "
        f"Returns the newest `limit` points (default {DEFAULT_POINTS}, at most {MAX_POINTS}) with "
        "since <= t < until. p25 and p75 come with the time metrics (median, min) only; "
        f'"{END_TO_END}" has the time metrics only. A layer\'s range before the raw window (retention keeps '
        "ROOFWATCH_RAW_RETENTION_DAYS of layer rows) is read from the daily rollups, one point a day with no "
        "run and `runs` the runs it summarises; `resolution` says which part of the range is daily and which "
        f'raw. "{END_TO_END}" is always raw: runs are kept.'
    ),
    parameters=[
        OpenApiParameter("machine", str, OpenApiParameter.PATH, description="machine name"),
        id_parameter("benchmark", "benchmark id", OpenApiParameter.PATH),
        OpenApiParameter("layer", str, OpenApiParameter.PATH, description=f'layer name or "{END_TO_END}"'),
        OpenApiParameter("metric", str, enum=list(METRICS), default="median"),
        OpenApiParameter("since", INSTANT_SCHEMA, description=f"points at or after this ({ISO_EXAMPLE})"),
        OpenApiParameter("until", INSTANT_SCHEMA, description="points before this"),
        OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": MAX_POINTS},
                         description=f"newest points to return, 1 to {MAX_POINTS}"),
    ],
    responses={
        200: SeriesPointsSerializer,
        **error_responses({400: "bad metric, date or limit", 404: "unknown machine, benchmark or layer"}),
    },
)
class SeriesPointsView(APIView):

    def get(self, request, machine: str, benchmark: int, layer: str):
        return Response(series_points(machine, benchmark, layer, PointsQuery.from_params(request.query_params)))
