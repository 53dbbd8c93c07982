from rest_framework.routers import SimpleRouter

from regressions.views import AlertSummaryViewSet, AlertViewSet, DetectionPolicyViewSet

router = SimpleRouter()
router.register("alerts/summaries", AlertSummaryViewSet, basename="alertsummary")
router.register("alerts", AlertViewSet, basename="alert")
router.register("detection-policies", DetectionPolicyViewSet, basename="detectionpolicy")

urlpatterns = router.urls
