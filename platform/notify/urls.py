from django.urls import path

from notify.views import ci_hook, github_hook

urlpatterns = [
    path("github/", github_hook, name="hook-github"),
    path("ci/", ci_hook, name="hook-ci"),
]
