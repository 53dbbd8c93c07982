"""Bad bodies of the agent's job endpoints get a 400 naming the field, and change nothing."""
import pytest

from fleet.models import QUEUED, Job

from .job_fixtures import *  # noqa: F403
from .job_fixtures import make_job


@pytest.mark.parametrize(
    "body, field",
    [
        ({"lease_seconds": 29}, "lease_seconds"),
        ({"lease_seconds": 3601}, "lease_seconds"),
        ({"lease_seconds": "soon"}, "lease_seconds"),
        ({"lease_seconds": True}, "lease_seconds"),
        ({"lease_second": 60}, "lease_second"),
        ([1, 2], "non_field_errors"),
    ],
)
def test_a_bad_claim_body_is_refused_naming_the_field(agent, machine, body, field):
    make_job(machine)
    response = agent.post("/api/v1/jobs/claim", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert Job.objects.get().status == QUEUED


def test_malformed_json_is_a_400(agent, machine):
    response = agent.post("/api/v1/jobs/claim", b"{not json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


@pytest.fixture
def claimed(agent, machine):
    job = make_job(machine)
    return job, agent.claim().json()["lease"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "lease"),
        ({"lease": 5, "extra": 1}, "extra"),
        ({"lease": ["x"]}, "lease"),
    ],
)
def test_a_bad_heartbeat_body_is_refused_naming_the_field(agent, claimed, body, field):
    job, _ = claimed
    response = agent.post(f"/api/v1/jobs/{job.pk}/heartbeat", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"run": 1}, "lease"),
        ({}, "lease"),
        ({"lease": "L"}, "run"),  # neither run nor error
        ({"lease": "L", "run": 1, "error": "boom"}, "run"),  # both
        ({"lease": "L", "run": 0}, "run"),
        ({"lease": "L", "run": "seven"}, "run"),
        ({"lease": "L", "run": 2**63}, "run"),
        ({"lease": "L", "error": 5}, "error"),
        ({"lease": "L", "error": "x", "stderr_tail": ["a"]}, "stderr_tail"),
        ({"lease": "L", "error": "x", "timed_out": "maybe"}, "timed_out"),
        ({"lease": "L", "error": "x", "exit_code": 1}, "exit_code"),
    ],
)
def test_a_bad_complete_body_is_refused_naming_the_field(agent, claimed, body, field):
    job, lease = claimed
    body = {k: (lease if v == "L" else v) for k, v in body.items()}
    response = agent.complete(job.pk, body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert Job.objects.get(pk=job.pk).status == "claimed"


def test_a_run_with_timed_out_is_refused(agent, claimed):
    job, lease = claimed
    response = agent.complete(job.pk, {"lease": lease, "run": 1, "timed_out": True})
    assert response.status_code == 400
    assert "timed_out" in response.json()["errors"]


def test_a_form_body_is_refused_with_415(client, token, machine):
    make_job(machine)
    response = client.post("/api/v1/jobs/claim", "lease_seconds=60", content_type="application/x-www-form-urlencoded",
                           HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 415
    assert Job.objects.get().status == QUEUED


@pytest.mark.parametrize("content_type", ["application/json", ""])
def test_an_empty_body_claims_with_the_default_lease(client, token, machine, content_type):
    make_job(machine)
    response = client.generic("POST", "/api/v1/jobs/claim", b"", content_type=content_type,
                              HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200, response.content
    assert Job.objects.get().lease_seconds == 900
