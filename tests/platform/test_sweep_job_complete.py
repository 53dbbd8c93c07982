"""A job whose config has a sweep completes with the sweep it uploaded
(fleet.jobs.complete sweep_id), never with a run; and only with a sweep of
its own machine."""
import pytest
from django.core.exceptions import ValidationError

from fleet import jobs
from fleet.models import KIND_SCHEDULE, Job, Machine
from results.sweep_ingest import ingest_sweep

from ..sweep_factory import make_sweep

SWEEP_CONFIG = {"sweep": {"batch": [4], "budget_s": 30}}


def sweep_of(machine):
    machine.fingerprint = "fp-test-1"
    machine.save()
    sweep, _ = ingest_sweep(make_sweep(), machine)
    return sweep


@pytest.mark.django_db
def test_a_sweep_job_completes_with_its_sweep_and_refuses_a_run(machine, client):
    job = Job.objects.create(machine=machine, kind=KIND_SCHEDULE, model="mlp", config=SWEEP_CONFIG)
    claim = jobs.claim(machine)
    sweep = sweep_of(machine)
    with pytest.raises(jobs.JobRefused, match="completes with sweep, not run"):
        jobs.complete(job.pk, machine, claim.lease, run_id=1)
    done = jobs.complete(job.pk, machine, claim.lease, sweep_id=sweep.pk)
    assert (done.status, done.sweep_id, done.run_id) == ("done", sweep.pk, None)
    body = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert (body["sweep"], body["sweep_url"]) == (sweep.pk, f"/sweeps/{sweep.pk}/")
    assert client.get(body["sweep_url"]).status_code == 200  # the sweep's page
    assert client.get(f"/api/v1/jobs/{job.pk}/", HTTP_ACCEPT="text/html").content.count(
        f'/sweeps/{sweep.pk}/'.encode()) >= 1  # the job's browsable page links it


@pytest.mark.django_db
def test_a_sweep_is_refused_for_a_run_job_and_from_another_machine(machine):
    other = Machine.objects.create(name="m2")
    sweep = sweep_of(other)
    plain = Job.objects.create(machine=machine, kind=KIND_SCHEDULE, model="mlp")
    claim = jobs.claim(machine)
    with pytest.raises(jobs.JobRefused, match="has no sweep in its config"):
        jobs.complete(plain.pk, machine, claim.lease, sweep_id=sweep.pk)
    jobs.complete(plain.pk, machine, claim.lease, error="gave up")
    job = Job.objects.create(machine=machine, kind=KIND_SCHEDULE, model="mlp", config=SWEEP_CONFIG)
    claim = jobs.claim(machine)
    with pytest.raises(jobs.JobRefused, match="is not a sweep of machine 'm1'"):
        jobs.complete(job.pk, machine, claim.lease, sweep_id=sweep.pk)
    with pytest.raises(jobs.JobRefused, match="Give one of run"):
        jobs.complete(job.pk, machine, claim.lease, sweep_id=sweep.pk, error="x")


def test_the_spec_check_refuses_what_the_job_could_not_run():
    with pytest.raises(ValidationError):
        Job(model="mlp", config={"sweep": {"budget_s": 30}, "target_ci": 2}).clean()
