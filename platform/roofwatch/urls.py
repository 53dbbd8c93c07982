from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("results.urls")),
    path("api/v1/", include("fleet.urls")),
    path("api/v1/", include("regressions.urls")),
    path("api/v1/", include("bisection.urls")),
    path("hooks/", include("notify.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("dashboard.urls")),
]
