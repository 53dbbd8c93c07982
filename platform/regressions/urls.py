from rest_framework.routers import SimpleRouter

from regressions.views import AlertSummaryViewSet, AlertViewSet

router = SimpleRouter()
router.register("alerts/summaries", AlertSummaryViewSet, basename="alertsummary")
router.register("alerts", AlertViewSet, basename="alert")

urlpatterns = router.urls
