from django.urls import path, register_converter
from rest_framework.routers import SimpleRouter

from fleet.job_views import (
    ClaimJobView,
    CompleteJobView,
    HeartbeatJobView,
    JobViewSet,
    ReleaseByLeaseView,
    ReleaseJobView,
)
from fleet.views import MachineViewSet, RegisterAgentView


class JobIdConverter:
    """A job id that fits a bigint; a longer one is a 404 without a query."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(JobIdConverter, "job_id")

router = SimpleRouter()
router.register("machines", MachineViewSet, basename="machine")  # names machine-list, machine-detail
router.register("jobs", JobViewSet, basename="job")  # names job-list, job-detail

urlpatterns = [
    path("agents/register", RegisterAgentView.as_view(), name="agent-register"),
    path("jobs/claim", ClaimJobView.as_view(), name="job-claim"),
    path("jobs/release", ReleaseByLeaseView.as_view(), name="job-release-by-lease"),
    path("jobs/<job_id:pk>/heartbeat", HeartbeatJobView.as_view(), name="job-heartbeat"),
    path("jobs/<job_id:pk>/complete", CompleteJobView.as_view(), name="job-complete"),
    path("jobs/<job_id:pk>/release", ReleaseJobView.as_view(), name="job-release"),
    *router.urls,
]
