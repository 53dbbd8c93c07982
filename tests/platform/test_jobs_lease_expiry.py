"""An expired lease makes the job claimable again (after a crash the same
machine's agent picks it up); the old lease then gets 409; after max_attempts
claims an expired job fails instead of looping forever."""
from datetime import timedelta

import pytest
from django.utils import timezone

from fleet import jobs
from fleet.models import CLAIMED, FAILED, QUEUED, Job

from .job_fixtures import *  # noqa: F403
from .job_fixtures import later, make_job


def _expire(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(lease_expires=timezone.now() - timedelta(seconds=1))


def test_after_a_crash_the_machine_reclaims_its_job_and_the_old_lease_is_refused(agent, machine):
    job = make_job(machine)
    old = agent.claim(lease_seconds=30).json()["lease"]
    _expire(job)  # the agent died and sent no heartbeat
    reclaimed = agent.claim()
    assert reclaimed.status_code == 200 and reclaimed.json()["id"] == job.pk
    new = reclaimed.json()["lease"]
    assert new != old
    assert Job.objects.get(pk=job.pk).attempts == 2
    late_heartbeat = agent.heartbeat(job.pk, old)
    assert late_heartbeat.status_code == 409 and "claimed again" in late_heartbeat.json()["detail"]
    assert agent.complete(job.pk, {"lease": old, "error": "late"}).status_code == 409
    assert agent.complete(job.pk, {"lease": new, "error": "crashed again"}).status_code == 200


def test_an_unexpired_lease_keeps_the_job(agent, machine):
    make_job(machine)
    agent.claim(lease_seconds=30)
    assert agent.claim().status_code == 204


def test_an_expired_lease_nobody_took_yet_can_still_be_renewed(agent, machine):
    job = make_job(machine)
    lease = agent.claim(lease_seconds=30).json()["lease"]
    _expire(job)
    assert agent.heartbeat(job.pk, lease).status_code == 200
    assert agent.claim().status_code == 204  # renewed: not claimable any more


def test_a_job_whose_lease_expired_max_attempts_times_fails(machine):
    job = make_job(machine, max_attempts=2)
    assert jobs.claim(machine, 30, now=later(0)).job.pk == job.pk
    assert jobs.claim(machine, 30, now=later(31)).job.attempts == 2
    assert jobs.claim(machine, 30, now=later(62)) is None
    job.refresh_from_db()
    assert job.status == FAILED and "2 claims" in job.error and job.finished_at == later(62)


def test_a_machine_gets_its_next_job_when_the_expired_one_has_used_up_its_attempts(machine):
    stuck = make_job(machine, max_attempts=1)
    waiting = make_job(machine)
    jobs.claim(machine, 30, now=later(0))
    claimed = jobs.claim(machine, 30, now=later(60))
    assert claimed.job.pk == waiting.pk
    assert Job.objects.get(pk=stuck.pk).status == FAILED


def test_release_expired_requeues_or_fails_and_voids_the_old_lease(machine):
    requeue = make_job(machine)
    give_up = make_job(machine, max_attempts=1)
    live = make_job(machine)
    first = jobs.claim(machine, 30, now=later(0))
    jobs.claim(machine, 30, now=later(0))
    jobs.claim(machine, 600, now=later(0))
    assert jobs.release_expired(now=later(30)) == (1, 1)
    assert jobs.release_expired(now=later(30)) == (0, 0)  # idempotent
    statuses = dict(Job.objects.values_list("pk", "status"))
    assert statuses == {requeue.pk: QUEUED, give_up.pk: FAILED, live.pk: CLAIMED}
    with pytest.raises(jobs.LeaseLost):
        jobs.heartbeat(first.job.pk, machine, first.lease, now=later(31))
    again = jobs.claim(machine, 30, now=later(31))
    assert again.job.pk == requeue.pk and again.job.attempts == 2
