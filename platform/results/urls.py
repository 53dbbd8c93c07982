from rest_framework.routers import SimpleRouter

from results.views import RunViewSet

router = SimpleRouter()
router.register("runs", RunViewSet, basename="run")  # names run-list, run-detail

urlpatterns = router.urls
