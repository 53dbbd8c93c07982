"""An agent may choose its lease (POST /api/v1/jobs/claim {"lease": ...}) and
record it before asking, so that one killed during the claim request can give
the job back by the lease alone (POST /api/v1/jobs/release {"lease": ...})."""
import secrets

import pytest
import yaml
from django.core.management import call_command

from agents.jobs_client import new_lease
from fleet import jobs
from fleet.models import Job, hash_token

from .job_fixtures import *  # noqa: F403
from .job_fixtures import Agent, make_job


def chosen() -> str:
    return "rwl_" + secrets.token_urlsafe(32)


def release_by_lease(agent, lease: str, **kwargs):
    return agent.post("/api/v1/jobs/release", {"lease": lease}, **kwargs)


def test_a_claim_under_a_chosen_lease_stores_its_hash_and_the_lease_works(agent, machine):
    job = make_job(machine)
    lease = chosen()
    response = agent.claim(lease=lease, lease_seconds=120)
    assert response.status_code == 200 and response.json()["id"] == job.pk
    assert response.json()["lease"] == lease
    stored = Job.objects.get(pk=job.pk)
    assert (stored.status, stored.lease_hash, stored.attempts) == ("claimed", hash_token(lease), 1)
    assert agent.heartbeat(job.pk, lease).status_code == 200
    assert agent.complete(job.pk, {"lease": lease, "error": "boom"}).status_code == 200
    assert Job.objects.get(pk=job.pk).status == "failed"


def test_without_a_chosen_lease_the_server_chooses_one(agent, machine):
    job = make_job(machine)
    lease = agent.claim().json()["lease"]
    assert lease.startswith(jobs.LEASE_PREFIX) and Job.objects.get(pk=job.pk).lease_hash == hash_token(lease)


@pytest.mark.parametrize("lease", [
    "rwl_short",  # too few characters to be unguessable
    "xyz_" + "a" * 43,  # not the lease prefix
    "rwl_" + "a" * 42 + "!",  # outside URL-safe base64
    " rwl_" + "a" * 43,  # whitespace is not trimmed into a valid lease
    "rwl_" + "a" * 197,  # over 200 characters
    "",
    12345678901234567890123456789012345678901234567890,
])
def test_a_bad_chosen_lease_is_refused_with_400_naming_lease_and_claims_nothing(agent, machine, lease):
    job = make_job(machine)
    response = agent.claim(lease=lease)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"lease"}
    assert Job.objects.get(pk=job.pk).status == "queued"


def test_a_lease_that_already_holds_a_claimed_job_is_refused(agent, machine):
    first, second = make_job(machine), make_job(machine)
    lease = chosen()
    assert agent.claim(lease=lease).json()["id"] == first.pk
    response = agent.claim(lease=lease)
    assert response.status_code == 400 and set(response.json()["errors"]) == {"lease"}
    assert Job.objects.get(pk=second.pk).status == "queued"


def test_the_agents_lease_is_one_the_server_takes(machine):
    assert jobs.check_chosen_lease(new_lease(), machine)


def test_release_by_lease_queues_the_job_at_once_without_counting_the_claim(agent, machine):
    job = make_job(machine, max_attempts=2)
    lease = chosen()
    assert agent.claim(lease=lease, lease_seconds=3600).status_code == 200
    response = release_by_lease(agent, lease)
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"], response.json()["attempts"]) == (job.pk, "queued", 0)
    stored = Job.objects.get(pk=job.pk)
    assert (stored.status, stored.lease_hash, stored.lease_expires, stored.attempts) == ("queued", "", None, 0)
    assert agent.heartbeat(job.pk, lease).status_code == 409  # the lease is void
    assert release_by_lease(agent, lease).status_code == 404  # released once
    assert agent.claim().json()["id"] == job.pk


def test_release_by_lease_is_404_for_an_unknown_lease_a_finished_job_or_another_machines(agent, machine,
                                                                                          other_machine, client):
    assert release_by_lease(agent, chosen()).status_code == 404  # the claim never reached the server
    done = make_job(machine)
    lease = chosen()
    agent.claim(lease=lease)
    agent.complete(done.pk, {"lease": lease, "error": "boom"})
    assert release_by_lease(agent, lease).status_code == 404
    theirs = make_job(other_machine)
    other = Agent(client, other_machine.rotate_token())
    their_lease = chosen()
    assert other.claim(lease=their_lease).json()["id"] == theirs.pk
    response = release_by_lease(agent, their_lease)
    assert response.status_code == 404 and "m1" in response.json()["detail"]
    assert Job.objects.get(pk=theirs.pk).status == "claimed"


def test_release_by_lease_needs_a_machine_token_and_a_lease(agent, machine):
    assert release_by_lease(agent, chosen(), token=None).status_code == 401
    response = release_by_lease(agent, "")
    assert response.status_code == 400 and set(response.json()["errors"]) == {"lease"}


def test_the_schema_describes_release_by_lease_and_the_chosen_lease(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    post = schema["paths"]["/api/v1/jobs/release"]["post"]
    assert set(post["responses"]) >= {"200", "400", "401", "404"}
    assert post["security"] == [{"agentToken": []}]
    claim_body = schema["components"]["schemas"]["ClaimRequest"]["properties"]
    assert claim_body["lease"]["maxLength"] == 200
