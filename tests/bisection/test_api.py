"""The bisection API: anyone who may read sees bisections; only a signed-in
user starts or cancels one, and both are in the triage history."""
import pytest
from django.contrib.auth import get_user_model

from bisection.models import CANCELLED, LISTING, Bisection
from regressions.models import TriageEvent
from tests.bisection.test_runner import machine, summary  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return get_user_model().objects.create_user("cat")


def test_a_signed_in_user_starts_and_cancels_a_bisection(client, user, summary):
    client.force_login(user)
    started = client.post("/api/v1/bisections/", {"summary": summary.pk}, content_type="application/json")
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["status"] == LISTING and body["summary"] == summary.pk and body["started_by"] == "cat"
    again = client.post("/api/v1/bisections/", {"summary": summary.pk}, content_type="application/json")
    assert again.status_code == 409 and "already has a bisection running" in again.json()["detail"][0]
    cancelled = client.post(f"/api/v1/bisections/{body['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == CANCELLED
    assert client.post(f"/api/v1/bisections/{body['id']}/cancel/").status_code == 409
    assert list(TriageEvent.objects.filter(action="bisect").values_list("new", "user__username")) == [
        ("started", "cat"), ("cancelled", "cat")]


def test_anonymous_readers_see_bisections_but_cannot_start_one(client, summary):
    assert client.post("/api/v1/bisections/", {"summary": summary.pk},
                       content_type="application/json").status_code == 401
    assert not Bisection.objects.exists()
    Bisection.objects.create(summary=summary, alert=summary.alerts.first(), machine=summary.alerts.first().machine,
                             benchmark=summary.alerts.first().benchmark, layer="fc1", repository="r",
                             last_good="a" * 40, first_bad="b" * 40, min_rel_change=0.05)
    listed = client.get(f"/api/v1/bisections/?summary={summary.pk}").json()
    assert listed["count"] == 1 and listed["results"][0]["started_by"] is None


@pytest.mark.parametrize("body, field", [({}, "summary"), ({"summary": "x"}, "summary"), ({"summary": 1, "x": 1}, "x")])
def test_a_bad_start_request_names_the_field(client, user, summary, body, field):
    client.force_login(user)
    answer = client.post("/api/v1/bisections/", body, content_type="application/json")
    assert answer.status_code == 400 and field in answer.json()["errors"]


def test_a_summary_id_that_names_nothing_is_a_404(client, user, summary):
    client.force_login(user)
    answer = client.post("/api/v1/bisections/", {"summary": 999999}, content_type="application/json")
    assert answer.status_code == 404 and answer.json()["detail"].startswith("summary: no ")


def test_a_failed_runs_error_is_for_signed_in_readers_only(client, user, summary):
    from bisection.models import RUN_FAILED, RUNNING, BisectRun

    alert = summary.alerts.first()
    bisection = Bisection.objects.create(
        summary=summary, alert=alert, machine=alert.machine, benchmark=alert.benchmark, layer="fc1", repository="r",
        last_good="a" * 40, first_bad="b" * 40, min_rel_change=0.05, status=RUNNING,
        commits=[{"sha": c * 40, "subject": "", "author": "", "time": ""} for c in "acb"])
    BisectRun.objects.create(bisection=bisection, index=1, commit="c" * 40, job_id=99, status=RUN_FAILED,
                             error="build failed: secret path /home/ci")
    url = f"/api/v1/bisections/{bisection.pk}/"
    assert client.get(url).json()["steps"][0]["runs"][0]["error"] is None
    client.force_login(user)
    assert client.get(url).json()["steps"][0]["runs"][0]["error"] == "build failed: secret path /home/ci"
