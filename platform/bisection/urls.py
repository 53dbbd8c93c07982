from rest_framework.routers import SimpleRouter

from bisection.views import BisectionViewSet

router = SimpleRouter()
router.register("bisections", BisectionViewSet, basename="bisection")

urlpatterns = router.urls
