from django.urls import path
from rest_framework.routers import SimpleRouter

from fleet.views import MachineViewSet, RegisterAgentView

router = SimpleRouter()
router.register("machines", MachineViewSet, basename="machine")  # names machine-list, machine-detail

urlpatterns = [
    path("agents/register", RegisterAgentView.as_view(), name="agent-register"),
    *router.urls,
]
