"""The sweeps API: agents POST sweep reports (roofwatch.sweep/1); anyone who
may read runs may read sweeps with their configurations."""
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response

from core.errors import error_responses
from results.models import Sweep, SweepPoint
from results.report_views import ReportViewSet
from results.run_serializers import IngestResultSerializer
from results.sweep_ingest import ingest_sweep
from results.sweep_schema import SweepReport


class SweepPointSerializer(serializers.ModelSerializer):
    class Meta:
        model = SweepPoint
        exclude = ["id", "sweep"]


class SweepSummarySerializer(serializers.ModelSerializer):
    machine = serializers.CharField(source="machine.name")
    model = serializers.CharField(source="benchmark.model")
    params = serializers.JSONField(source="benchmark.params")
    url = serializers.CharField(source="get_absolute_url")

    class Meta:
        model = Sweep
        fields = ["id", "url", "machine", "model", "params", "mode", "slo_p99_ms", "commit", "branch", "started_at",
                  "warmup", "repeats", "rounds"]


class SweepDetailSerializer(SweepSummarySerializer):
    points = SweepPointSerializer(many=True)

    class Meta(SweepSummarySerializer.Meta):
        fields = [*SweepSummarySerializer.Meta.fields, "grid", "knobs", "budget_s", "load_before", "load_after",
                  "points"]


@extend_schema_view(
    list=extend_schema(summary="Deployment sweeps, newest first"),
    retrieve=extend_schema(summary="One sweep with every configuration it measured"),
    create=extend_schema(
        summary="Upload a sweep report (schema roofwatch.sweep/1)", request=SweepReport,
        responses={201: IngestResultSerializer, 200: IngestResultSerializer, **error_responses({
            400: "invalid sweep report or malformed JSON",
            401: "missing, unknown or revoked token, or disabled machine",
            403: "the report's machine fingerprint is another machine's, or its project is not the machine's",
            409: "idempotency_key already stored with another payload",
            413: "body over ROOFWATCH_MAX_REPORT_BYTES"})},
    ),
)
class SweepViewSet(ReportViewSet):
    summary_serializer_class = SweepSummarySerializer
    detail_serializer_class = SweepDetailSerializer

    def get_queryset(self):
        sweeps = Sweep.objects.select_related("machine", "benchmark")
        return sweeps.prefetch_related("points") if self.action == "retrieve" else sweeps

    def create(self, request, *args, **kwargs):
        sweep, created = ingest_sweep(request.data, request.auth)
        body = IngestResultSerializer({"id": sweep.pk, "url": sweep.get_absolute_url(), "created": created}).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
                        headers={"Location": reverse("sweep-detail", args=[sweep.pk])})
