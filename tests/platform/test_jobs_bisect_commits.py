"""Bisect jobs wait behind fresh jobs (priority); a commits job lists base..head
and completes with its checked result; job_finished is sent once, after the commit."""
import pytest
from django.core.exceptions import ValidationError

from fleet import jobs
from fleet.models import (
    CANCELLED, DONE, FAILED, KIND_BISECT, KIND_COMMIT, KIND_COMMITS, PRIORITY_BISECT, Job,
)
from fleet.signals import job_finished

from .job_fixtures import *  # noqa: F403
from .job_fixtures import SPEC, later, make_job

REPO = "https://example.com/engine.git"
BASE, MID, HEAD = "a" * 40, "b" * 40, "c" * 40


def entry(sha: str, subject: str = "a change") -> dict:
    return {"sha": sha, "subject": subject, "author": "Ada", "time": "2026-03-01T12:00:00+01:00"}


@pytest.fixture
def finished():
    """The job_finished signals sent, as (job_id, status)."""
    seen = []

    def receiver(sender, job_id, status, **kwargs):
        assert sender is Job
        seen.append((job_id, status))

    job_finished.connect(receiver)
    yield seen
    job_finished.disconnect(receiver)


@pytest.fixture
def commits_job(agent, machine):
    job = jobs.enqueue_commit_list(machine, REPO, BASE, HEAD)
    claimed = agent.claim().json()
    assert claimed["id"] == job.pk
    return job, claimed


def test_bisect_jobs_are_claimed_after_fresh_jobs_made_later(machine):
    spec = {k: v for k, v in SPEC.items()}
    bisect = jobs.enqueue_bisect(machine, REPO, MID, **spec, now=later(0))
    fresh = jobs.enqueue_commit([machine], REPO, HEAD, **spec, now=later(1))[0]
    scheduled = make_job(machine)
    order = [jobs.claim(machine, now=later(2)).job.pk for _ in range(3)]
    assert order == [fresh.pk, scheduled.pk, bisect.pk]
    bisect.refresh_from_db()
    assert (bisect.kind, bisect.priority, bisect.commit, bisect.model) == (KIND_BISECT, PRIORITY_BISECT, MID, "mlp")


def test_a_commit_gets_a_new_bisect_job_each_time(machine):
    first = jobs.enqueue_bisect(machine, REPO, MID, **SPEC)
    second = jobs.enqueue_bisect(machine, REPO, MID.upper(), **SPEC)
    assert first.pk != second.pk and second.commit == MID
    assert not Job.objects.filter(kind=KIND_COMMIT).exists()


@pytest.mark.parametrize("change, field", [({"model": ""}, "model"), ({"repeats": 0}, "repeats"),
                                           ({"commit": "xyz"}, "commit"), ({"repository": ""}, "repository")])
def test_a_bad_bisect_job_is_refused_naming_the_field(machine, change, field):
    args = {"repository": REPO, "commit": MID, **SPEC, **change}
    with pytest.raises(ValidationError) as refused:
        jobs.enqueue_bisect(machine, args.pop("repository"), args.pop("commit"), **args)
    assert field in refused.value.message_dict
    assert not Job.objects.exists()


def test_the_claim_answer_of_a_commits_job_names_its_range(commits_job):
    job, claimed = commits_job
    assert (claimed["kind"], claimed["base_commit"], claimed["commit"], claimed["priority"]) == (
        KIND_COMMITS, BASE, HEAD, 0)
    assert claimed["benchmark"]["model"] == ""
    job.full_clean()  # no spec to check: its model is empty


@pytest.mark.parametrize("base, head, field", [("nothex", HEAD, "base_commit"), (BASE, "", "commit"),
                                               (BASE, BASE[:12], "base_commit")])
def test_a_bad_commits_job_is_refused_naming_the_field(machine, base, head, field):
    with pytest.raises(ValidationError) as refused:
        jobs.enqueue_commit_list(machine, REPO, base, head)
    assert list(refused.value.message_dict) == [field]


def test_a_commits_job_completes_with_its_list(agent, commits_job, finished, django_capture_on_commit_callbacks):
    job, claimed = commits_job
    result = {"commits": [entry(MID), entry(HEAD, "the culprit")]}
    with django_capture_on_commit_callbacks(execute=True):
        response = agent.complete(job.pk, {"lease": claimed["lease"], "result": result})
        assert finished == []  # not before the commit
    assert response.status_code == 200, response.content
    assert response.json()["status"] == DONE
    job.refresh_from_db()
    assert (job.status, job.result, job.run_id) == (DONE, result, None)
    assert finished == [(job.pk, DONE)]


@pytest.mark.parametrize("result, says", [
    ({"commits": []}, "non-empty"),
    ({"commits": [entry(MID)]}, "the last entry must be the head"),
    ({"commits": [entry(BASE), entry(HEAD)]}, "is the base commit"),
    ({"commits": [entry(HEAD), entry(HEAD)]}, "listed twice"),
    ({"commits": [{**entry(HEAD), "time": "yesterday"}]}, "commits[0].time"),
    ({"commits": [{**entry(HEAD), "subject": "x" * 201}]}, "commits[0].subject"),
    ({"commits": [{**entry(HEAD), "author": "a\x00b"}]}, "NUL"),
    ({"commits": [{**entry(HEAD), "sha": HEAD[:12]}]}, "commits[0].sha"),
    ({"commits": [{**entry(HEAD), "extra": 1}]}, "exactly the keys"),
    ({"commits": [entry(HEAD)], "more": 1}, "one key"),
    ([entry(HEAD)], "one key"),
])
def test_a_bad_commit_list_is_refused_naming_result(agent, commits_job, result, says):
    job, claimed = commits_job
    response = agent.complete(job.pk, {"lease": claimed["lease"], "result": result})
    assert response.status_code == 400, response.content
    assert says in response.json()["errors"]["result"][0]
    job.refresh_from_db()
    assert job.status == "claimed" and job.result is None


def test_at_most_max_commit_list_entries(machine):
    from fleet.commit_list import MAX_COMMIT_LIST, CommitListError, check_commit_list

    many = [entry(f"{i:040x}") for i in range(1, MAX_COMMIT_LIST + 2)]
    with pytest.raises(CommitListError, match="at most 5000"):
        check_commit_list({"commits": many}, BASE, many[-1]["sha"])
    assert len(check_commit_list({"commits": many[1:]}, BASE, many[-1]["sha"])["commits"]) == MAX_COMMIT_LIST


def test_a_commits_job_takes_no_run_and_other_jobs_take_no_result(agent, machine, commits_job):
    job, claimed = commits_job
    response = agent.complete(job.pk, {"lease": claimed["lease"], "run": 1})
    assert response.status_code == 400 and "commits job" in response.json()["errors"]["run"][0]
    other = make_job(machine)
    lease = agent.claim().json()["lease"]
    response = agent.complete(other.pk, {"lease": lease, "result": {"commits": [entry(HEAD)]}})
    assert response.status_code == 400 and "only a commits job" in response.json()["errors"]["result"][0]
    response = agent.complete(other.pk, {"lease": lease, "result": {"commits": []}, "error": "x"})
    assert response.status_code == 400 and "not more" in response.json()["errors"]["error"][0]


def test_a_commits_job_fails_with_an_error(agent, commits_job, finished, django_capture_on_commit_callbacks):
    job, claimed = commits_job
    with django_capture_on_commit_callbacks(execute=True):
        response = agent.complete(job.pk, {"lease": claimed["lease"], "error": "unknown commit"})
    assert response.json()["status"] == FAILED
    assert finished == [(job.pk, FAILED)]


def test_job_finished_is_sent_when_leases_run_out_and_on_cancel(machine, finished,
                                                                  django_capture_on_commit_callbacks):
    expiring = make_job(machine, max_attempts=1)
    swept = make_job(machine, max_attempts=1)
    kept = make_job(machine)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.claim(machine, lease_seconds=30, now=later(0))  # expiring
        jobs.claim(machine, lease_seconds=30, now=later(0))  # swept
        assert jobs.release_expired(now=later(60)) == (0, 2)
    assert sorted(finished) == sorted([(expiring.pk, FAILED), (swept.pk, FAILED)])
    finished.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.cancel(Job.objects.all()) == 1
        assert jobs.cancel(Job.objects.all()) == 0  # once only
    assert finished == [(kept.pk, CANCELLED)]


def test_job_finished_when_claim_gives_up_an_expired_job(machine, finished, django_capture_on_commit_callbacks):
    job = make_job(machine, max_attempts=1)
    jobs.claim(machine, lease_seconds=30, now=later(0))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.claim(machine, lease_seconds=30, now=later(60)) is None
    assert finished == [(job.pk, FAILED)]


def test_a_bisect_job_with_a_sweep_is_refused_saying_why(machine):
    spec = {**SPEC, "threads": None, "config": {"sweep": {"batch": [4], "budget_s": 30}}}
    with pytest.raises(ValidationError) as refused:
        jobs.enqueue_bisect(machine, REPO, MID, **spec)
    assert "a sweep cannot be bisected" in str(refused.value.message_dict["config"])
    assert not Job.objects.exists()
