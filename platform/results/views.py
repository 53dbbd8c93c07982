"""The runs API: agents POST run reports; anyone may read runs for now."""
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response

from fleet.auth import MISSING_TOKEN, IsFleetMachine, MachineTokenAuthentication
from results.ingest import ingest_report
from results.models import Run
from results.report_parser import ReportJSONParser, check_content_length
from results.run_serializers import (
    ApiErrorSerializer,
    IngestResultSerializer,
    RunDetailSerializer,
    RunSummarySerializer,
)
from results.serializers import ReportSerializer

# ?name=value filters of the run list and the Run lookups they apply.
RUN_FILTERS = {
    "machine": ("machine__name", "machine name"),
    "model": ("benchmark__model", "benchmark model name"),
    "commit": ("commit", "full commit id"),
    "branch": ("branch", "branch name"),
}

ERROR_RESPONSES = {
    code: OpenApiResponse(ApiErrorSerializer, description=text)
    for code, text in {
        400: "invalid report or malformed JSON",
        401: "missing, unknown or revoked token, or disabled machine",
        403: "the report's machine fingerprint is another machine's",
        409: "idempotency_key already stored with another payload",
        413: "body over ROOFWATCH_MAX_REPORT_BYTES",
    }.items()
}


@extend_schema_view(
    list=extend_schema(
        summary="Runs, newest first",
        parameters=[
            OpenApiParameter(name, str, description=f"exact {text}") for name, (_, text) in RUN_FILTERS.items()
        ],
    ),
    retrieve=extend_schema(summary="One run with its layers"),
    create=extend_schema(
        summary="Upload a run report (schema roofwatch.run/1)",
        request=ReportSerializer,
        responses={201: IngestResultSerializer, 200: IngestResultSerializer, **ERROR_RESPONSES},
    ),
)
class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    authentication_classes = [MachineTokenAuthentication, SessionAuthentication]
    parser_classes = [ReportJSONParser]

    def get_permissions(self):
        if self.action == "create":
            return [IsFleetMachine()]
        return [permissions.AllowAny()]

    def get_serializer_class(self):
        return {"create": ReportSerializer, "retrieve": RunDetailSerializer}.get(self.action, RunSummarySerializer)

    def get_queryset(self) -> QuerySet[Run]:
        runs = Run.objects.select_related("machine", "benchmark__project")
        if self.action == "retrieve":
            return runs.prefetch_related("layers")
        for name, (lookup, _) in RUN_FILTERS.items():
            value = self.request.query_params.get(name)
            if value:
                runs = runs.filter(**{lookup: value})
        return runs

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.action == "create":
            check_content_length(request.META)  # before the body is read

    def permission_denied(self, request, message=None, code=None):
        if request.authenticators and not request.successful_authenticator:
            raise exceptions.NotAuthenticated(MISSING_TOKEN)
        super().permission_denied(request, message, code)

    def create(self, request, *args, **kwargs):
        run, created = ingest_report(request.data, request.auth)
        body = IngestResultSerializer({"id": run.pk, "url": run.get_absolute_url(), "created": created}).data
        return Response(
            body,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            headers={"Location": reverse("run-detail", args=[run.pk])},
        )
