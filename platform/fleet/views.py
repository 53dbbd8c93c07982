"""Fleet API: the machine list (read-only) and agent self-registration."""
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from core.agent_auth import MachineTokenAuthentication
from core.errors import error_responses
from core.pagination import BoundedLimitOffsetPagination
from fleet.enrollment import EnrollmentRefused, enroll_machine
from fleet.models import Machine
from fleet.serializers import (
    MachineOutSerializer,
    RegisterRequestSerializer,
    RegisterResponseSerializer,
)


@extend_schema_view(
    list=extend_schema(summary="Fleet machines by name"),
    retrieve=extend_schema(summary="One machine, with its measured roofline"),
)
class MachineViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Machine.objects.all()
    serializer_class = MachineOutSerializer
    pagination_class = BoundedLimitOffsetPagination
    lookup_field = "name"
    lookup_value_regex = "[^/]+"  # one path segment (a NUL never gets here: core.middleware)


class RefusedRegistration(APIException):
    def __init__(self, refused: EnrollmentRefused) -> None:
        super().__init__(str(refused))
        self.status_code = refused.status_code


class RegisterAgentView(APIView):
    """Authenticated by the enrollment token in the body; re-enrolling an
    existing machine also takes its current agent token in the header."""

    authentication_classes = [MachineTokenAuthentication]
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        summary="Register an agent's machine with an enrollment token",
        description=(
            "Creates the machine, or re-enrolls an existing machine with the same fingerprint by rotating its "
            "token, and returns the machine's new agent token once. Re-enrolling needs the machine's current "
            "agent token in the Authorization header, or an operator's approval (admin action \"Allow "
            "re-enrollment\"). A new machine may post runs to the projects of the enrollment token."
        ),
        request=RegisterRequestSerializer,
        responses={
            201: RegisterResponseSerializer,
            **error_responses({
                400: "invalid body",
                401: "unknown, revoked, expired or used-up enrollment token, or an invalid agent token",
                403: "the machine is disabled, or re-enrolling it lacks its agent token and an operator's approval",
                409: "the name belongs to a machine with another fingerprint, or the fingerprint to another name",
            }),
        },
        auth=[{"agentToken": []}, {}],  # the agent token only to re-enroll
    )
    def post(self, request):
        body = RegisterRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            machine, token, _ = enroll_machine(
                body.validated_data["enroll_token"], body.validated_data["name"], body.validated_data["fingerprint"],
                presented=request.auth if isinstance(request.auth, Machine) else None,
            )
        except EnrollmentRefused as refused:
            raise RefusedRegistration(refused) from None
        return Response({"machine": machine.name, "token": token}, status=status.HTTP_201_CREATED)
