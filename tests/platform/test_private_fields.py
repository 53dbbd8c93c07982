"""What processes wrote (a job's error and stderr tail) and who people are (the
user names of triagers) are not for anonymous readers, even while
ROOFWATCH_ANONYMOUS_READ lets them read everything else: the API answers null
there. Signed-in users and fleet machines (agent tokens, as ci-check and the
agent send) still see them."""
import pytest
from django.contrib.auth.models import User

from fleet.models import FAILED
from regressions.models import AlertSummary
from regressions.triage import set_summary_status
from results.models import Project

from .job_fixtures import *  # noqa: F403
from .job_fixtures import make_job

SECRET_ERROR = "engine crashed in /home/ops/secret-checkout"
SECRET_STDERR = "Traceback (most recent call last): ... /home/ops/secret-checkout"


@pytest.fixture
def failed_job(machine):
    return make_job(machine, status=FAILED, error=SECRET_ERROR, stderr_tail=SECRET_STDERR)


@pytest.fixture
def triaged(db):
    project = Project.objects.create(name="p", repository_url="https://example.com/p")
    summary = AlertSummary.objects.create(key="k", project=project, classification="compute")
    set_summary_status(summary, "acknowledged", User.objects.create_user("tri-ager"), "looking")
    return summary


def job_bodies(client, job, **headers) -> list[dict]:
    return [client.get("/api/v1/jobs/", **headers).json()["results"][0],
            client.get(f"/api/v1/jobs/{job.pk}/", **headers).json()]


def summary_bodies(client, summary, **headers) -> list[dict]:
    return [client.get("/api/v1/alerts/summaries/", **headers).json()["results"][0],
            client.get(f"/api/v1/alerts/summaries/{summary.pk}/", **headers).json()]


def test_anonymous_readers_see_no_job_error_or_stderr_tail(client, failed_job):
    for body in job_bodies(client, failed_job):
        assert body["status"] == FAILED
        assert body["error"] is None and body["stderr_tail"] is None
    assert b"secret-checkout" not in client.get("/api/v1/jobs/").content


def test_machines_and_signed_in_users_see_the_job_error_and_stderr_tail(client, failed_job, token):
    for body in job_bodies(client, failed_job, HTTP_AUTHORIZATION=f"Token {token}"):
        assert (body["error"], body["stderr_tail"]) == (SECRET_ERROR, SECRET_STDERR)
    client.force_login(User.objects.create_user("reader"))
    for body in job_bodies(client, failed_job):
        assert (body["error"], body["stderr_tail"]) == (SECRET_ERROR, SECRET_STDERR)


def test_the_agent_completing_a_job_gets_its_error_back(agent, machine):
    job = make_job(machine)
    claimed = agent.claim().json()
    response = agent.complete(claimed["id"], {"lease": claimed["lease"], "error": "boom", "stderr_tail": "tail"})
    assert response.status_code == 200 and job.pk == claimed["id"]
    assert (response.json()["error"], response.json()["stderr_tail"]) == ("boom", "tail")


def test_anonymous_readers_see_triage_but_not_who_triaged(client, triaged):
    listed, detail = summary_bodies(client, triaged)
    assert listed["status"] == detail["status"] == "acknowledged" and listed["triaged_at"]
    assert listed["triaged_by"] is None and detail["triaged_by"] is None
    assert [(event["user"], event["note"]) for event in detail["events"]] == [(None, "looking")]
    assert b"tri-ager" not in client.get(f"/api/v1/alerts/summaries/{triaged.pk}/").content


def test_machines_and_signed_in_users_see_who_triaged(client, triaged, token):
    for headers in ({"HTTP_AUTHORIZATION": f"Token {token}"}, {}):
        if not headers:
            client.force_login(User.objects.create_user("reader"))
        listed, detail = summary_bodies(client, triaged, **headers)
        assert listed["triaged_by"] == detail["triaged_by"] == "tri-ager"
        assert [event["user"] for event in detail["events"]] == ["tri-ager"]
