"""The database holds enqueue_commit's rule: one unfinished commit job per
machine, repository, commit and spec (constraint one_pending_commit_job), and
enqueue_commit takes a job another hook inserted first as its own answer."""
import pytest
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from fleet.jobs import enqueue_commit
from fleet.models import DONE, KIND_COMMIT, Job

from .job_fixtures import *  # noqa: F403

REPO = "https://git.example/engine.git"
SHA = "0123456789abcdef0123456789abcdef01234567"


def test_the_database_refuses_a_second_unfinished_commit_job(machine):
    (job,) = enqueue_commit([machine], REPO, SHA, model="dlrm")
    twin = {f: getattr(job, f) for f in ("machine", "kind", "repository", "commit", "spec_hash", *job.spec())}
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(**twin)
    Job.objects.filter(pk=job.pk).update(status=DONE)
    Job.objects.create(**twin)  # a finished job does not count
    assert Job.objects.count() == 2


def test_a_job_inserted_by_a_concurrent_hook_is_not_made_twice(machine, monkeypatch):
    """Another hook inserted the same job after enqueue_commit's check found none."""
    (first,) = enqueue_commit([machine], REPO, SHA, model="dlrm")
    exists = QuerySet.exists
    monkeypatch.setattr(QuerySet, "exists", lambda qs: False if qs.model is Job else exists(qs))
    assert enqueue_commit([machine], REPO, SHA, model="dlrm") == []
    assert list(Job.objects.filter(kind=KIND_COMMIT)) == [first]
    assert len(enqueue_commit([machine], REPO, SHA, model="dlrm", params={"batch": 2})) == 1  # another spec
