"""Triage takes a signed-in session (with its CSRF token), not HTTP basic:
a password sent with every request would go around the sign-in throttle."""
import base64

from django.contrib.auth.models import User
from django.test import Client

from regressions.models import AlertSummary
from results.models import Project


def summary() -> AlertSummary:
    project = Project.objects.create(name="p", repository_url="https://github.com/example/p")
    return AlertSummary.objects.create(key="a", project=project, classification="compute")


def test_http_basic_cannot_triage(client, db):
    User.objects.create_user("ana", password="pw-for-tests")
    target = summary()
    basic = "Basic " + base64.b64encode(b"ana:pw-for-tests").decode()
    response = client.patch(f"/api/v1/alerts/summaries/{target.pk}/", {"status": "fixed"},
                            content_type="application/json", HTTP_AUTHORIZATION=basic)
    assert response.status_code in (401, 403)
    target.refresh_from_db()
    assert target.status == "untriaged"


def test_a_signed_in_session_with_its_csrf_token_triages(db):
    client = Client(enforce_csrf_checks=True)
    User.objects.create_user("ana", password="pw-for-tests")
    target = summary()
    client.post("/accounts/login/", {"username": "ana", "password": "pw-for-tests",
                                     "csrfmiddlewaretoken": _csrf(client)})
    response = client.patch(f"/api/v1/alerts/summaries/{target.pk}/", {"status": "fixed"},
                            content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 200, response.content
    target.refresh_from_db()
    assert (target.status, target.triaged_by.username) == ("fixed", "ana")


def _csrf(client) -> str:
    client.get("/accounts/login/")
    return client.cookies["csrftoken"].value
