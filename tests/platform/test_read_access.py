"""One read rule for the whole API (core.access): anyone reads while
ROOFWATCH_ANONYMOUS_READ is on; with it off, signed-in users and fleet machines
(agent token, as `roofwatch-agent ci-check` sends) read and nobody else does.
Triage stays a signed-in person's, never a machine's."""
import pytest
from django.contrib.auth.models import User

from fleet.models import Machine
from regressions.models import AlertSummary, TriageEvent
from results.models import Run
from tests.report_factory import make_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(upload) -> Run:
    assert upload(make_report()).status_code == 201
    return Run.objects.get()


def read_urls(run: Run) -> list[str]:
    return [
        "/api/v1/runs/", f"/api/v1/runs/{run.pk}/", "/api/v1/machines/", "/api/v1/projects/", "/api/v1/benchmarks/",
        "/api/v1/series/", "/api/v1/jobs/", "/api/v1/alerts/", "/api/v1/alerts/summaries/",
        "/dash-api/sparklines/",
    ]


def test_anyone_reads_by_default(client, run):
    for url in read_urls(run):
        assert client.get(url).status_code == 200, url


def test_with_anonymous_read_off_an_anonymous_reader_is_refused(client, run, settings):
    settings.ROOFWATCH_ANONYMOUS_READ = False
    for url in read_urls(run):
        response = client.get(url)
        assert response.status_code == 401, (url, response.status_code)
        assert "ROOFWATCH_ANONYMOUS_READ" in response.json()["detail"] or "credentials" in response.json()["detail"]


def test_with_anonymous_read_off_users_and_machines_read(client, run, token, settings):
    settings.ROOFWATCH_ANONYMOUS_READ = False
    for url in read_urls(run):
        assert client.get(url, HTTP_AUTHORIZATION=f"Token {token}").status_code == 200, url
    client.force_login(User.objects.create_user("reader"))
    for url in read_urls(run):
        assert client.get(url).status_code == 200, url


def test_a_bad_token_is_refused_even_when_anyone_may_read(client, run):
    assert client.get("/api/v1/runs/", HTTP_AUTHORIZATION="Token not-a-token").status_code == 401


def test_a_machine_cannot_triage(client, run, token):
    summary = AlertSummary.objects.create(key="k", project=run.benchmark.project, classification="compute")
    response = client.patch(f"/api/v1/alerts/summaries/{summary.pk}/", {"status": "fixed"},
                            content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 403
    summary.refresh_from_db()
    assert summary.status == "untriaged" and TriageEvent.objects.count() == 0
    assert Machine.objects.count() == 1
