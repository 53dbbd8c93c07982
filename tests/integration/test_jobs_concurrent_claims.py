"""Concurrent claims on real PostgreSQL (SELECT ... FOR UPDATE SKIP LOCKED):
agents racing for jobs get different jobs, and no job is claimed or finished twice."""
from __future__ import annotations

import pytest
from django.db import connection

from fleet import jobs
from fleet.models import CLAIMED, KIND_SCHEDULE, Job, Machine, MachineGroup, Schedule
from tests.concurrency import race
from tests.conftest import need_service

THREADS = 8
SPEC = {"model": "mlp", "params": {}, "config": {}, "warmup": 1, "repeats": 1, "timeout_seconds": 60}


@pytest.fixture
def machine(transactional_db) -> Machine:
    if connection.vendor != "postgresql":
        need_service(f"row locks need PostgreSQL, the test database is {connection.vendor} (set DATABASE_URL)")
    return Machine.objects.create(name="m1")


def _make_jobs(machine: Machine, count: int) -> list[int]:
    return [Job.objects.create(machine=machine, kind=KIND_SCHEDULE, **SPEC).pk for _ in range(count)]


def test_concurrent_claims_get_distinct_jobs(machine):
    ids = _make_jobs(machine, 5)
    claims = race(lambda i: jobs.claim(machine, 60), THREADS)
    got = [c.job.pk for c in claims if c is not None]
    assert sorted(got) == ids  # five agents got one job each, three got nothing
    assert set(Job.objects.values_list("status", "attempts")) == {(CLAIMED, 1)}


def test_agents_draining_a_queue_claim_every_job_exactly_once(machine):
    ids = _make_jobs(machine, 60)

    def drain(i: int) -> list[int]:
        mine = []
        while (claimed := jobs.claim(machine, 60)) is not None:
            mine.append(claimed.job.pk)
        return mine

    got = [pk for mine in race(drain, THREADS) for pk in mine]
    assert sorted(got) == ids
    assert set(Job.objects.values_list("attempts", flat=True)) == {1}


def test_an_expired_job_is_reclaimed_by_one_agent_only(machine):
    from datetime import timedelta

    from django.utils import timezone

    (pk,) = _make_jobs(machine, 1)
    jobs.claim(machine, 30, now=timezone.now() - timedelta(seconds=60))  # its lease ran out 30 s ago
    claims = race(lambda i: jobs.claim(machine, 60), THREADS)
    assert [c.job.pk for c in claims if c is not None] == [pk]
    assert Job.objects.get(pk=pk).attempts == 2


def test_one_lease_finishes_a_job_once_however_many_completes_race(machine):
    (pk,) = _make_jobs(machine, 1)
    lease = jobs.claim(machine, 60).lease

    def complete(i: int) -> str:
        try:
            jobs.complete(pk, machine, lease, error=f"attempt {i}")
            return "done"
        except jobs.LeaseLost:
            return "lost"

    outcomes = race(complete, THREADS)
    assert sorted(outcomes) == ["done"] + ["lost"] * (THREADS - 1)
    job = Job.objects.get(pk=pk)
    assert job.status == "failed" and job.error.startswith("attempt ")


def test_concurrent_heartbeats_and_a_complete_leave_the_job_finished(machine):
    (pk,) = _make_jobs(machine, 1)
    lease = jobs.claim(machine, 60).lease

    def act(i: int) -> str:
        try:
            if i == 0:
                jobs.complete(pk, machine, lease, error="finished")
            else:
                jobs.heartbeat(pk, machine, lease)
            return "ok"
        except jobs.LeaseLost:
            return "lost"

    race(act, THREADS)
    assert Job.objects.get(pk=pk).status == "failed"


def test_concurrent_enqueues_make_one_job_per_machine_and_schedule(machine):
    others = [Machine.objects.create(name=f"m{i}") for i in range(2, 5)]
    group = MachineGroup.objects.create(name="g")
    group.machines.set([machine, *others])
    Schedule.objects.create(name="s", group=group, **SPEC)
    made = race(lambda i: jobs.enqueue_scheduled(), THREADS)
    assert sum(made) == 4
    assert sorted(Job.objects.values_list("machine__name", flat=True)) == ["m1", "m2", "m3", "m4"]
