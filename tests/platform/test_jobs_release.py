"""An agent gives a claimed job back (POST /api/v1/jobs/<id>/release): it is
queued again at once, its lease stops working, and the claim does not count
against max_attempts."""
import yaml
from django.core.management import call_command

from fleet.models import Job

from .job_fixtures import *  # noqa: F403
from .job_fixtures import make_job


def release(agent, job_id: int, lease: str):
    return agent.post(f"/api/v1/jobs/{job_id}/release", {"lease": lease})


def test_a_released_job_is_queued_at_once_and_claimable_under_a_new_lease(agent, machine):
    job = make_job(machine, max_attempts=2)
    lease = agent.claim(lease_seconds=3600).json()["lease"]
    response = release(agent, job.pk, lease)
    assert response.status_code == 200
    assert response.json()["status"] == "queued" and response.json()["attempts"] == 0
    stored = Job.objects.get(pk=job.pk)
    assert (stored.status, stored.lease_hash, stored.lease_expires, stored.attempts) == ("queued", "", None, 0)
    assert agent.heartbeat(job.pk, lease).status_code == 409  # the old lease is void
    for _ in range(3):  # releases never use up max_attempts
        again = agent.claim(lease_seconds=60).json()
        assert again["id"] == job.pk and again["lease"] != lease
        assert release(agent, job.pk, again["lease"]).status_code == 200
    assert Job.objects.get(pk=job.pk).attempts == 0


def test_releasing_with_a_wrong_lease_or_a_finished_job_gets_409_and_changes_nothing(agent, machine):
    job = make_job(machine)
    lease = agent.claim().json()["lease"]
    assert release(agent, job.pk, "rwl_not-the-lease").status_code == 409
    assert Job.objects.get(pk=job.pk).status == "claimed"
    assert agent.complete(job.pk, {"lease": lease, "error": "boom"}).status_code == 200
    response = release(agent, job.pk, lease)
    assert response.status_code == 409 and "is failed" in response.json()["detail"]
    assert Job.objects.get(pk=job.pk).status == "failed"


def test_a_job_of_another_machine_or_no_token_cannot_be_released(agent, machine, other_machine):
    job = make_job(other_machine)
    assert release(agent, job.pk, "rwl_x").status_code == 404
    assert agent.post(f"/api/v1/jobs/{job.pk}/release", {"lease": "rwl_x"}, token=None).status_code == 401
    assert release(agent, job.pk, "").status_code == 400


def test_the_schema_describes_release(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out))
    post = yaml.safe_load(out.read_text())["paths"]["/api/v1/jobs/{id}/release"]["post"]
    assert set(post["responses"]) >= {"200", "400", "401", "404", "409"}
    assert post["security"] == [{"agentToken": []}]
