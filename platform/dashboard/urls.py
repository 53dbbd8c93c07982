from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.run_list, name="run-list"),
    path("runs/<int:run_id>/", views.run_page, name="run-page"),
    path("healthz", views.healthz, name="healthz"),
]
