"""An agent claims its machine's oldest queued job with a lease (POST /api/v1/jobs/claim)."""
from datetime import datetime

from fleet.models import CLAIMED, KIND_COMMIT, Job, Machine, hash_token

from .job_fixtures import *  # noqa: F403
from .job_fixtures import SPEC, make_job

CLAIM_KEYS = {"id", "lease", "lease_expires", "kind", "benchmark", "config", "warmup", "repeats", "threads",
              "timeout_seconds", "repository", "commit", "base_commit", "priority", "under_test"}


def test_it_answers_204_with_no_body_when_the_machine_has_no_job(agent, other_machine):
    make_job(other_machine)
    response = agent.claim()
    assert response.status_code == 204
    assert response.content == b""


def test_it_gives_the_job_in_the_contract_shape(agent, machine):
    job = make_job(machine)
    response = agent.claim(lease_seconds=120)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == CLAIM_KEYS
    assert body["id"] == job.pk and body["kind"] == "schedule"
    assert body["benchmark"] == {"model": "mlp", "params": {"batch": 8}}
    assert body["config"] == {"passes": ["fuse_gemm_bias"], "quant": "none", "flags": {}, "inject": []}
    assert (body["warmup"], body["repeats"], body["threads"], body["timeout_seconds"]) == (2, 5, 1, 300)
    assert body["repository"] == "" and body["commit"] == ""
    job.refresh_from_db()
    assert job.status == CLAIMED and job.attempts == 1 and job.lease_seconds == 120
    assert job.lease_hash == hash_token(body["lease"])  # stored hashed, never in plain
    expires = datetime.fromisoformat(body["lease_expires"].replace("Z", "+00:00"))
    assert abs((expires - job.claimed_at).total_seconds() - 120) < 1e-6


def test_a_commit_job_carries_its_repository_and_commit(agent, machine):
    make_job(machine, kind=KIND_COMMIT, repository="https://git.example/engine.git", commit="ab" * 20)
    body = agent.claim().json()
    assert (body["kind"], body["repository"], body["commit"]) == ("commit", "https://git.example/engine.git", "ab" * 20)


def test_it_claims_the_oldest_job_first_and_never_one_under_a_live_lease(agent, machine):
    first, second = make_job(machine), make_job(machine)
    assert agent.claim().json()["id"] == first.pk
    assert agent.claim().json()["id"] == second.pk
    assert agent.claim().status_code == 204


def test_the_lease_lasts_900_seconds_by_default(agent, machine):
    make_job(machine)
    assert agent.claim().status_code == 200
    assert Job.objects.get().lease_seconds == 900


def test_finished_jobs_are_not_claimed(agent, machine):
    for status in ("done", "failed", "cancelled"):
        make_job(machine, status=status)
    assert agent.claim().status_code == 204


def test_a_claim_records_that_the_machine_is_alive(agent, machine):
    assert Machine.objects.get(pk=machine.pk).last_seen is None
    agent.claim()
    assert Machine.objects.get(pk=machine.pk).last_seen is not None


def test_a_job_without_threads_leaves_them_to_the_engine(agent, machine):
    make_job(machine, threads=None)
    body = agent.claim().json()
    assert body["threads"] is None and body["benchmark"]["model"] == SPEC["model"]
