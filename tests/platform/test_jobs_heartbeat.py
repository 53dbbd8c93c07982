"""An agent renews its lease by heartbeat (POST /api/v1/jobs/<id>/heartbeat)."""
from datetime import datetime, timedelta

from django.utils import timezone

from fleet.models import Job

from .job_fixtures import *  # noqa: F403
from .job_fixtures import make_job


def _expires(body: dict) -> datetime:
    return datetime.fromisoformat(body["lease_expires"].replace("Z", "+00:00"))


def test_a_heartbeat_extends_the_lease_by_the_claims_lease_seconds_from_now(agent, machine):
    job = make_job(machine)
    lease = agent.claim(lease_seconds=60).json()["lease"]
    Job.objects.filter(pk=job.pk).update(lease_expires=timezone.now() + timedelta(seconds=5))
    before = timezone.now()
    response = agent.heartbeat(job.pk, lease)
    assert response.status_code == 200
    assert set(response.json()) == {"lease_expires"}
    expires = _expires(response.json())
    assert before + timedelta(seconds=60) <= expires <= timezone.now() + timedelta(seconds=60)
    assert Job.objects.get(pk=job.pk).lease_expires == expires


def test_a_wrong_lease_gets_409_and_extends_nothing(agent, machine):
    job = make_job(machine)
    agent.claim()
    stored = Job.objects.get(pk=job.pk).lease_expires
    response = agent.heartbeat(job.pk, "rwl_not-the-lease")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("lease lost")
    assert Job.objects.get(pk=job.pk).lease_expires == stored


def test_a_heartbeat_for_a_job_never_claimed_gets_409(agent, machine):
    job = make_job(machine)
    response = agent.heartbeat(job.pk, "rwl_anything")
    assert response.status_code == 409
    assert "is queued" in response.json()["detail"]


def test_a_job_of_another_machine_is_404_even_with_its_lease(agent, client, machine, other_machine):
    from .job_fixtures import Agent

    job = make_job(other_machine)
    other_lease = Agent(client, other_machine.rotate_token()).claim().json()["lease"]
    response = agent.heartbeat(job.pk, other_lease)
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_an_unknown_job_is_404(agent, machine):
    assert agent.heartbeat(999, "rwl_x").status_code == 404
    assert agent.heartbeat(10**18 - 1, "rwl_x").status_code == 404


def test_an_id_too_large_for_the_database_is_404(agent, machine):
    assert agent.heartbeat(10**30, "rwl_x").status_code == 404
