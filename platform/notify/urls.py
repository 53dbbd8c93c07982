from django.urls import path

from notify.views import ci_hook, github_hook

# The project in the URL: its secret checks the signature before the body is read (notify.views).
urlpatterns = [
    path("github/<int:project_id>/", github_hook, name="hook-github"),
    path("ci/<int:project_id>/", ci_hook, name="hook-ci"),
]
