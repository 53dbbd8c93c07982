"""The alerts API: reading follows core.access (anonymous while
ROOFWATCH_ANONYMOUS_READ is on, else a signed-in user or an agent token, as
`roofwatch-agent ci-check` sends); triage (PATCH) needs a signed-in user
(a session, with its CSRF token: no HTTP basic, which would take passwords
around the sign-in throttle), who is recorded on the change. Detection
policies follow the same rule: anyone who may read reads them, signed-in
users write them."""
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.access import ReadOrSignedInUserWrites
from core.agent_auth import MachineTokenAuthentication
from core.openapi import id_parameter
from core.pagination import BoundedLimitOffsetPagination
from regressions.models import Alert, AlertSummary, DetectionPolicy
from regressions.serializers import (
    AlertSerializer,
    AlertSummaryDetailSerializer,
    AlertSummarySerializer,
    AlertTriageSerializer,
    DetectionPolicySerializer,
    SummaryTriageSerializer,
)
from regressions.triage import TriageError, reassign_alert, set_alert_status, set_summary_notes, set_summary_status
from core.query import optional_int
from results.filters import filter_exact
from results.series import MAX_ID

SUMMARY_FILTERS = {"status": "status", "classification": "classification", "project": "project__name",
                   "commit": "attribution__commits__first_bad"}
ALERT_FILTERS = {
    "status": "status", "direction": "direction", "classification": "classification", "machine": "machine__name",
    "layer": "layer",
}
ALERT_ID_FILTERS = {"summary": "summary_id", "benchmark": "benchmark_id"}


class TriageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    authentication_classes = [MachineTokenAuthentication, SessionAuthentication]
    permission_classes = [ReadOrSignedInUserWrites]
    pagination_class = BoundedLimitOffsetPagination
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "patch", "head", "options"]

    def triage(self, request, serializer_class):
        request_serializer = serializer_class(data=request.data)
        request_serializer.is_valid(raise_exception=True)
        try:
            self.apply(self.get_object(), request_serializer.validated_data, request.user)
        except TriageError as error:
            raise ValidationError({"detail": [str(error)]}) from None
        return Response(self.get_serializer(self.get_object()).data)


@extend_schema_view(
    list=extend_schema(
        summary="Alert summaries, newest first",
        parameters=[OpenApiParameter(name, str, description=f"exact {name}") for name in SUMMARY_FILTERS],
    ),
    retrieve=extend_schema(summary="One alert summary with its alerts and triage history"),
    partial_update=extend_schema(summary="Triage a summary: status and/or notes", request=SummaryTriageSerializer),
)
class AlertSummaryViewSet(TriageViewSet):
    def get_serializer_class(self):
        return AlertSummaryDetailSerializer if self.action in ("retrieve", "partial_update") else AlertSummarySerializer

    def get_queryset(self) -> QuerySet[AlertSummary]:
        summaries = AlertSummary.objects.select_related("project", "triaged_by").annotate(alert_count=Count("alerts"))
        if self.action == "list":
            return filter_exact(summaries, self.request.query_params, SUMMARY_FILTERS)
        return summaries.prefetch_related("alerts__machine", "alerts__benchmark", "events__user")

    def partial_update(self, request, *args, **kwargs):
        return self.triage(request, SummaryTriageSerializer)

    @staticmethod
    def apply(summary: AlertSummary, data: dict, user) -> None:
        if "status" in data:
            set_summary_status(summary, data["status"], user, data.get("note", ""))
        if "notes" in data:
            set_summary_notes(summary, data["notes"], user)


@extend_schema_view(
    list=extend_schema(
        summary="Alerts: one change in one series each",
        parameters=[
            *(OpenApiParameter(name, str, description=f"exact {name}") for name in ALERT_FILTERS),
            *(id_parameter(name, f"{name} id") for name in ALERT_ID_FILTERS),
        ],
    ),
    retrieve=extend_schema(summary="One alert"),
    partial_update=extend_schema(summary="Triage an alert: its status, or reassign it to another summary",
                                 request=AlertTriageSerializer),
)
class AlertViewSet(TriageViewSet):
    serializer_class = AlertSerializer

    def get_queryset(self) -> QuerySet[Alert]:
        alerts = Alert.objects.select_related("machine", "benchmark__project")
        if self.action != "list":
            return alerts
        params = self.request.query_params
        alerts = filter_exact(alerts, params, ALERT_FILTERS)
        for name, lookup in ALERT_ID_FILTERS.items():
            if (value := optional_int(params, name, 1, MAX_ID)) is not None:
                alerts = alerts.filter(**{lookup: value})
        return alerts

    def partial_update(self, request, *args, **kwargs):
        return self.triage(request, AlertTriageSerializer)

    @staticmethod
    def apply(alert: Alert, data: dict, user) -> None:
        if "summary" in data:
            reassign_alert(alert, data["summary"], user, data.get("note", ""))
        else:
            set_alert_status(alert, data["status"], user, data.get("note", ""))


POLICY_FILTERS = {"project": "project__name", "machine": "machine__name", "layer": "layer"}


@extend_schema_view(
    list=extend_schema(
        summary="Detection policies: per project, benchmark or series",
        parameters=[*(OpenApiParameter(name, str, description=f"exact {name}") for name in POLICY_FILTERS),
                    id_parameter("benchmark", "benchmark id")],
    ),
    retrieve=extend_schema(summary="One detection policy"),
    create=extend_schema(summary="Add a detection policy (one per scope)"),
    update=extend_schema(summary="Replace a detection policy"),
    partial_update=extend_schema(summary="Change a detection policy"),
    destroy=extend_schema(summary="Remove a detection policy (its scope inherits again)"),
)
class DetectionPolicyViewSet(viewsets.ModelViewSet):
    """Read as core.access allows; written by signed-in users, recorded as updated_by."""

    serializer_class = DetectionPolicySerializer
    authentication_classes = [MachineTokenAuthentication, SessionAuthentication]
    permission_classes = [ReadOrSignedInUserWrites]
    pagination_class = BoundedLimitOffsetPagination
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[DetectionPolicy]:
        policies = DetectionPolicy.objects.select_related("project", "machine", "updated_by")
        if self.action != "list":
            return policies
        params = self.request.query_params
        policies = filter_exact(policies, params, POLICY_FILTERS)
        if (benchmark := optional_int(params, "benchmark", 1, MAX_ID)) is not None:
            policies = policies.filter(benchmark_id=benchmark)
        return policies

    def perform_create(self, serializer) -> None:
        self._save(serializer)

    def perform_update(self, serializer) -> None:
        self._save(serializer)

    def _save(self, serializer) -> None:
        try:
            with transaction.atomic():
                serializer.save(updated_by=self.request.user)
        except IntegrityError:  # another request took the scope between the check and the write
            raise ValidationError({"detail": ["This scope already has a policy; change that one."]}) from None
