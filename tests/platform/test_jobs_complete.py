"""An agent finishes a job with its run, or with an error (POST /api/v1/jobs/<id>/complete);
a job is finished once."""
import pytest

from fleet.models import DONE, FAILED, Job, Machine
from results.models import Run
from tests.report_factory import make_report

from .job_fixtures import *  # noqa: F403
from .job_fixtures import Agent, make_job


@pytest.fixture
def claimed(agent, machine):
    job = make_job(machine)
    return job, agent.claim().json()["lease"]


@pytest.fixture
def run_id(upload) -> int:
    response = upload(make_report())
    assert response.status_code == 201
    return response.json()["id"]


def test_it_completes_a_job_with_its_run(agent, claimed, run_id):
    job, lease = claimed
    response = agent.complete(job.pk, {"lease": lease, "run": run_id})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["run"], body["machine"]) == (job.pk, "done", run_id, "m1")
    assert "lease" not in body and "lease_hash" not in body
    job.refresh_from_db()
    assert job.status == DONE and job.run_id == run_id and job.finished_at is not None and job.lease_hash == ""


def test_it_fails_a_job_with_the_error_and_stderr_tail(agent, claimed):
    job, lease = claimed
    response = agent.complete(job.pk, {"lease": lease, "error": "timed out after 300 s",
                                       "stderr_tail": "Traceback ...\nKeyboardInterrupt\n", "timed_out": True})
    assert response.status_code == 200, response.content
    job.refresh_from_db()
    assert (job.status, job.error, job.timed_out, job.run_id) == (FAILED, "timed out after 300 s", True, None)
    assert job.stderr_tail == "Traceback ...\nKeyboardInterrupt\n"


def test_process_text_postgresql_cannot_store_is_replaced_not_refused(agent, claimed):
    job, lease = claimed
    body = '{"lease": "%s", "error": "bad\\u0000byte", "stderr_tail": "half \\ud800 pair"}' % lease
    response = agent.complete(job.pk, body)
    assert response.status_code == 200, response.content
    job.refresh_from_db()
    assert job.error == "bad\ufffdbyte" and job.stderr_tail == "half \ufffd pair"


def test_only_the_tail_of_a_long_stderr_is_kept(agent, claimed):
    job, lease = claimed
    stderr = "".join(f"line {i}\n" for i in range(10_000))
    assert agent.complete(job.pk, {"lease": lease, "error": "crash", "stderr_tail": stderr}).status_code == 200
    kept = Job.objects.get(pk=job.pk).stderr_tail
    assert stderr.endswith(kept) and 0 < len(kept) <= 16_000 and kept.endswith("line 9999\n")


def test_a_job_is_never_completed_twice(agent, claimed, run_id):
    job, lease = claimed
    assert agent.complete(job.pk, {"lease": lease, "run": run_id}).status_code == 200
    again = agent.complete(job.pk, {"lease": lease, "error": "second try"})
    assert again.status_code == 409
    assert "is done" in again.json()["detail"]
    job.refresh_from_db()
    assert job.status == DONE and job.error == "" and job.run_id == run_id


def test_a_failed_job_cannot_be_completed_with_a_run_later(agent, claimed, run_id):
    job, lease = claimed
    assert agent.complete(job.pk, {"lease": lease, "error": "crash"}).status_code == 200
    assert agent.complete(job.pk, {"lease": lease, "run": run_id}).status_code == 409
    assert Job.objects.get(pk=job.pk).status == FAILED


def test_a_run_of_another_machine_is_a_400_naming_run(agent, claimed, client, other_machine):
    job, lease = claimed
    other_token = other_machine.rotate_token()
    response = client.post("/api/v1/runs/", make_report(fingerprint="fp-other"), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {other_token}")
    other_run = response.json()["id"]
    answer = agent.complete(job.pk, {"lease": lease, "run": other_run})
    assert answer.status_code == 400
    assert "not a run of machine 'm1'" in answer.json()["errors"]["run"][0]
    assert Job.objects.get(pk=job.pk).status == "claimed"


def test_an_unknown_run_is_a_400(agent, claimed):
    job, lease = claimed
    assert not Run.objects.filter(pk=424242).exists()
    response = agent.complete(job.pk, {"lease": lease, "run": 424242})
    assert response.status_code == 400 and "run" in response.json()["errors"]


def test_a_job_of_another_machine_is_404(agent, client, machine, other_machine):
    job = make_job(other_machine)
    lease = Agent(client, other_machine.rotate_token()).claim().json()["lease"]
    response = agent.complete(job.pk, {"lease": lease, "error": "not mine"})
    assert response.status_code == 404
    assert Job.objects.get(pk=job.pk).status == "claimed"


def test_a_cancelled_job_refuses_heartbeat_and_complete(agent, claimed):
    from fleet.jobs import cancel

    job, lease = claimed
    assert cancel(Job.objects.filter(pk=job.pk)) == 1
    assert agent.heartbeat(job.pk, lease).status_code == 409
    response = agent.complete(job.pk, {"lease": lease, "error": "x"})
    assert response.status_code == 409 and "cancelled" in response.json()["detail"]


def test_complete_records_that_the_machine_is_alive(agent, claimed, machine):
    job, lease = claimed
    Machine.objects.filter(pk=machine.pk).update(last_seen=None)
    agent.complete(job.pk, {"lease": lease, "error": "x"})
    assert Machine.objects.get(pk=machine.pk).last_seen is not None
