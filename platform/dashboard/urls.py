from django.contrib.auth import views as auth_views
from django.urls import path

from . import alert_views, compare_views, machine_views, overview_views, series_views, sweep_views, views

app_name = "dashboard"

urlpatterns = [
    path("", overview_views.overview, name="overview"),
    path("runs/", views.run_list, name="run-list"),
    path("runs/<int:run_id>/", views.run_page, name="run-page"),
    path("series/", series_views.series_page, name="series"),
    path("compare/", compare_views.compare_runs, name="compare"),
    path("alerts/", alert_views.alert_list, name="alert-list"),
    path("alerts/<int:summary_id>/", alert_views.alert_summary, name="alert-summary"),
    path("sweeps/", sweep_views.sweep_list, name="sweep-list"),
    path("sweeps/<int:sweep_id>/", sweep_views.sweep_page, name="sweep-page"),
    path("machines/", machine_views.machine_list, name="machine-list"),
    path("machines/<str:name>/", machine_views.machine_detail, name="machine-detail"),
    path("dash-api/series/", series_views.SeriesDataView.as_view(), name="series-data"),
    path("dash-api/compare/", compare_views.CompareDataView.as_view(), name="compare-data"),
    path("dash-api/sparklines/", overview_views.SparklinesView.as_view(), name="sparklines-data"),
    path("accounts/login/", auth_views.LoginView.as_view(
        template_name="dashboard/login.html", redirect_authenticated_user=True, next_page="dashboard:overview",
    ), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="dashboard:overview"), name="logout"),
    path("healthz", views.healthz, name="healthz"),
]
