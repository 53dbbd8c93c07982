from django.urls import path, register_converter
from rest_framework.routers import SimpleRouter

from results.sweep_views import SweepViewSet
from results.views import BenchmarkViewSet, ProjectViewSet, RunViewSet, SeriesListView, SeriesPointsView


class NameConverter:
    """A machine name: one path segment without NUL (no stored name has one; PostgreSQL refuses it in queries)."""

    regex = "[^/\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class LayerConverter(NameConverter):
    """A layer name: the rest of the path, so '.' and '/' in names need no escaping."""

    regex = "[^\x00]+"


register_converter(NameConverter, "machine_name")
register_converter(LayerConverter, "layer_name")

router = SimpleRouter()
router.register("runs", RunViewSet, basename="run")  # names run-list, run-detail
router.register("projects", ProjectViewSet, basename="project")
router.register("benchmarks", BenchmarkViewSet, basename="benchmark")
router.register("sweeps", SweepViewSet, basename="sweep")  # names sweep-list, sweep-detail

urlpatterns = [
    *router.urls,
    path("series/", SeriesListView.as_view(), name="series-list"),
    path(
        "series/<machine_name:machine>/<int:benchmark>/<layer_name:layer>/",
        SeriesPointsView.as_view(),
        name="series-points",
    ),
]
