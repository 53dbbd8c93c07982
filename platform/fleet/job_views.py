"""Jobs API. Agents (machine token) claim, heartbeat, complete and release their own
machine's jobs; anyone may read the job list, like the other read endpoints.
The rules live in fleet.jobs; these views map bodies and answers."""
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from core.agent_auth import MISSING_TOKEN, IsFleetMachine, MachineTokenAuthentication
from core.errors import error_responses
from core.pagination import BoundedLimitOffsetPagination
from fleet import jobs
from fleet.job_serializers import (
    ClaimRequestSerializer,
    ClaimResponseSerializer,
    CompleteRequestSerializer,
    HeartbeatResponseSerializer,
    JobOutSerializer,
    LeaseSerializer,
)
from fleet.models import JOB_KINDS, JOB_STATUSES, Job, Machine


AUTH_ERRORS = error_responses({400: "invalid body; `errors` names the field",
                               401: "missing, unknown or revoked token, or disabled machine"})
LEASE_ERRORS = {
    **AUTH_ERRORS,
    **error_responses({404: "no such job for this machine",
                       409: "lease lost: the job was claimed again after the lease expired, or it is finished"}),
}


class JobRefusedError(exceptions.APIException):
    def __init__(self, refused: jobs.JobRefused) -> None:
        super().__init__(str(refused))
        self.status_code = refused.status_code


def _call(function, *args, **kwargs):
    """Run a fleet.jobs function, turning its refusals into API errors."""
    try:
        return function(*args, **kwargs)
    except jobs.JobRefused as refused:
        if refused.field:
            raise exceptions.ValidationError({refused.field: [str(refused)]}) from None
        raise JobRefusedError(refused) from None


class AgentJobView(APIView):
    """Base of the agent's job endpoints: machine token only; each request
    records that the machine is alive."""

    authentication_classes = [MachineTokenAuthentication]
    permission_classes = [IsFleetMachine]

    def permission_denied(self, request, message=None, code=None):
        if not request.successful_authenticator:
            raise exceptions.NotAuthenticated(MISSING_TOKEN)
        super().permission_denied(request, message, code)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        Machine.objects.filter(pk=request.auth.pk).update(last_seen=timezone.now())

    def body(self, serializer_class) -> dict:
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data

    def answer(self, job: Job) -> Response:
        """The answer naming the job as it is now."""
        return Response(JobOutSerializer(job, context={"request": self.request}).data)


class ClaimJobView(AgentJobView):
    @extend_schema(
        summary="Claim this machine's next claimable job under a lease",
        description=(
            "A claimable job is queued, or claimed under a lease that expired (whose holder loses it); the "
            "lowest `priority` goes first, then the oldest. A `commits` job runs no benchmark: list "
            "base_commit..commit and complete with `result`. "
            "204 with no body when there is none. Concurrent claims never get the same job. With `lease` the "
            "job is claimed under that lease (the agent's choice, recorded before it asks), else the server "
            "chooses one."
        ),
        request=ClaimRequestSerializer,
        responses={200: ClaimResponseSerializer, 204: OpenApiResponse(description="no claimable job"),
                   **AUTH_ERRORS},
    )
    def post(self, request):
        body = self.body(ClaimRequestSerializer)
        if "agent" in body:
            jobs.record_agent_status(request.auth, body["agent"])
        claimed = _call(jobs.claim, request.auth, body["lease_seconds"], lease=body.get("lease"))
        if claimed is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ClaimResponseSerializer(claimed.job, context={"lease": claimed.lease}).data)


class HeartbeatJobView(AgentJobView):
    @extend_schema(
        summary="Renew a job's lease",
        description="Extends the lease by the claim's lease_seconds from now.",
        request=LeaseSerializer,
        responses={200: HeartbeatResponseSerializer, **LEASE_ERRORS},
    )
    def post(self, request, pk: int):
        job = _call(jobs.heartbeat, pk, request.auth, self.body(LeaseSerializer)["lease"])
        return Response(HeartbeatResponseSerializer(job).data)


class ReleaseJobView(AgentJobView):
    @extend_schema(
        summary="Give a claimed job back to the queue",
        description=(
            "For an agent that stops before the job's end (SIGTERM, or a restart after it died holding the "
            "lease): the job is `queued` again at once and the lease stops working. The claim does not count "
            "against `max_attempts`; only leases that run out do."
        ),
        request=LeaseSerializer,
        responses={200: JobOutSerializer, **LEASE_ERRORS},
    )
    def post(self, request, pk: int):
        return self.answer(_call(jobs.release, pk, request.auth, self.body(LeaseSerializer)["lease"]))


class ReleaseByLeaseView(AgentJobView):
    @extend_schema(
        operation_id="api_v1_jobs_release_by_lease",  # the default would collide with /jobs/{id}/release
        summary="Give back the claimed job held under a lease, by the lease alone",
        description=(
            "For an agent killed during its claim request: it chose the lease and recorded it before asking, "
            "but never learnt the job. The job of this machine claimed under `lease` is `queued` again at once, "
            "as with POST /api/v1/jobs/{id}/release (not counted against `max_attempts`). 404 when no claimed "
            "job of this machine holds the lease: the claim never reached the server or found no job, or the "
            "job was released or finished since."
        ),
        request=LeaseSerializer,
        responses={200: JobOutSerializer, **AUTH_ERRORS,
                   **error_responses({404: "no claimed job of this machine holds this lease"})},
    )
    def post(self, request):
        return self.answer(_call(jobs.release_by_lease, request.auth, self.body(LeaseSerializer)["lease"]))


class CompleteJobView(AgentJobView):
    @extend_schema(
        summary="Finish a job with its run, or with an error",
        description=(
            "With `run` (a run of this machine, uploaded first) the job is `done`; a `commits` job is done with "
            "`result` (base_commit..commit, oldest first, base excluded) instead. With `error` (and optionally "
            "`stderr_tail`, `timed_out`) it is `failed`. A job is finished once: a second complete gets 409."
        ),
        request=CompleteRequestSerializer,
        responses={200: JobOutSerializer, **LEASE_ERRORS},
    )
    def post(self, request, pk: int):
        body = self.body(CompleteRequestSerializer)
        return self.answer(_call(jobs.complete, pk, request.auth, body["lease"], run_id=body.get("run"),
                              result=body.get("result"), sweep_id=body.get("sweep"), error=body.get("error"),
                              stderr_tail=body["stderr_tail"],
                              timed_out=body["timed_out"]))


STATUS_NAMES = [name for name, _ in JOB_STATUSES]
KIND_NAMES = [name for name, _ in JOB_KINDS]


def _choice(params, name: str, choices: list[str]) -> str | None:
    value = params.get(name)
    if not value:
        return None
    if value not in choices:
        raise exceptions.ValidationError({name: [f"Expected one of {', '.join(choices)}; got {value!r}."]})
    return value


@extend_schema_view(
    list=extend_schema(
        summary="Jobs, newest first",
        parameters=[
            OpenApiParameter("machine", str, description="exact machine name"),
            OpenApiParameter("status", str, enum=["", *STATUS_NAMES], description="empty: any status"),
            OpenApiParameter("kind", str, enum=["", *KIND_NAMES], description="empty: any kind"),
        ],
    ),
    retrieve=extend_schema(summary="One job"),
)
class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = JobOutSerializer
    pagination_class = BoundedLimitOffsetPagination
    lookup_value_regex = "[0-9]{1,18}"  # fits a bigint; a longer id is a 404 without a query

    def get_queryset(self) -> QuerySet[Job]:
        rows = Job.objects.select_related("machine", "schedule")
        if self.action != "list":
            return rows
        params = self.request.query_params
        if machine := params.get("machine"):  # a NUL never gets here (core.middleware)
            rows = rows.filter(machine__name=machine)
        if status_name := _choice(params, "status", STATUS_NAMES):
            rows = rows.filter(status=status_name)
        if kind := _choice(params, "kind", KIND_NAMES):
            rows = rows.filter(kind=kind)
        return rows
