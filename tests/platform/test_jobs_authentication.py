"""The agent's job endpoints need the machine's token: without one, or with an
unknown, revoked or disabled machine's token, they answer 401 and do nothing."""
import pytest

from fleet.models import QUEUED, Job, Machine

from .job_fixtures import *  # noqa: F403
from .job_fixtures import make_job

ENDPOINTS = ["/api/v1/jobs/claim", "/api/v1/jobs/{id}/heartbeat", "/api/v1/jobs/{id}/complete"]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_no_token_is_401_with_how_to_get_one(agent, machine, url):
    job = make_job(machine)
    response = agent.post(url.format(id=job.pk), {"lease": "x", "error": "y"}, token=None)
    assert response.status_code == 401
    assert "agent_token" in response.json()["detail"]
    assert response["WWW-Authenticate"] == "Token"
    assert Job.objects.get().status == QUEUED


@pytest.mark.parametrize("url", ENDPOINTS)
def test_an_unknown_token_is_401(agent, machine, url):
    job = make_job(machine)
    response = agent.post(url.format(id=job.pk), {"lease": "x", "error": "y"}, token="rw_unknown")
    assert response.status_code == 401
    assert Job.objects.get().status == QUEUED


def test_a_disabled_machine_gets_401_and_claims_nothing(agent, machine):
    make_job(machine)
    Machine.objects.filter(pk=machine.pk).update(enabled=False)
    response = agent.claim()
    assert response.status_code == 401 and "disabled" in response.json()["detail"]
    assert Job.objects.get().status == QUEUED


def test_a_logged_in_user_is_not_an_agent(client, django_user_model, machine):
    make_job(machine)
    client.force_login(django_user_model.objects.create_superuser("admin", "a@example.com", "pw"))
    response = client.post("/api/v1/jobs/claim", {}, content_type="application/json")
    assert response.status_code == 401
    assert Job.objects.get().status == QUEUED


def test_read_endpoints_are_open(client, machine):
    job = make_job(machine)
    assert client.get("/api/v1/jobs/").status_code == 200
    assert client.get(f"/api/v1/jobs/{job.pk}/").status_code == 200
