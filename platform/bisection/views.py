"""The bisection API: reading follows core.access; starting and cancelling
need a signed-in user (a session with its CSRF token), recorded in the
summary's triage history."""
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from bisection import runner
from bisection.models import Bisection
from bisection.serializers import BisectionSerializer, StartSerializer
from core.access import ReadOrSignedInUserWrites
from core.agent_auth import MachineTokenAuthentication
from core.openapi import id_parameter
from core.pagination import BoundedLimitOffsetPagination
from core.query import optional_int
from results.filters import filter_exact
from results.series import MAX_ID

FILTERS = {"status": "status", "machine": "machine__name"}


class Refused(APIException):
    def __init__(self, error: runner.BisectRefused) -> None:
        self.status_code = error.status_code
        super().__init__({"detail": [str(error)]})


@extend_schema_view(
    list=extend_schema(summary="Bisections, newest first", parameters=[
        *(OpenApiParameter(name, str, description=f"exact {name}") for name in FILTERS),
        id_parameter("summary", "alert summary id")]),
    retrieve=extend_schema(summary="One bisection: its state, every step and the culprits"),
    create=extend_schema(summary="Start bisecting an alert summary's commit range", request=StartSerializer),
    cancel=extend_schema(summary="Cancel a running bisection", request=None),
)
class BisectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       viewsets.GenericViewSet):
    authentication_classes = [MachineTokenAuthentication, SessionAuthentication]
    permission_classes = [ReadOrSignedInUserWrites]
    pagination_class = BoundedLimitOffsetPagination
    serializer_class = BisectionSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Bisection]:
        bisections = Bisection.objects.select_related("machine", "started_by", "cancelled_by")
        params = self.request.query_params
        if self.action == "list":
            bisections = filter_exact(bisections, params, FILTERS)
            if (summary := optional_int(params, "summary", 1, MAX_ID)) is not None:
                bisections = bisections.filter(summary_id=summary)
        return bisections

    def create(self, request, *args, **kwargs):
        start = StartSerializer(data=request.data)
        start.is_valid(raise_exception=True)
        try:
            bisection = runner.start(start.validated_data["summary"], request.user)
        except runner.BisectRefused as error:
            raise Refused(error) from None
        return Response(self.get_serializer(bisection).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        try:
            bisection = runner.cancel(self.get_object(), request.user)
        except runner.BisectRefused as error:
            raise Refused(error) from None
        return Response(self.get_serializer(bisection).data)
