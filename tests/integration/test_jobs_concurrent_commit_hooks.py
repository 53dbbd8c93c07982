"""Hooks for one commit arriving at once on real PostgreSQL: each checks for a
pending job before inserting, so without the one_pending_commit_job constraint
several would insert; with it exactly one job is made and no hook fails."""
from __future__ import annotations

import pytest
from django.db import connection

from fleet.jobs import enqueue_commit
from fleet.models import Job, Machine
from tests.concurrency import race
from tests.conftest import need_service

THREADS = 8
REPO = "https://git.example/engine.git"
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def machines(transactional_db) -> list[Machine]:
    if connection.vendor != "postgresql":
        need_service(f"concurrent inserts need PostgreSQL, the test database is {connection.vendor} (set DATABASE_URL)")
    return [Machine.objects.create(name=f"m{i}") for i in range(3)]


def test_concurrent_hooks_make_one_job_per_machine(machines):
    made = race(lambda i: enqueue_commit(machines, REPO, SHA, model="mlp", params={"batch": 8}), THREADS)
    assert sum(len(jobs) for jobs in made) == len(machines)
    assert sorted(Job.objects.values_list("machine__name", flat=True)) == ["m0", "m1", "m2"]
