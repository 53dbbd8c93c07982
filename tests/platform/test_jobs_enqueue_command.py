"""`manage.py enqueue_jobs` does once what beat does every minute."""
import io
from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from fleet import jobs
from fleet.models import Job, MachineGroup, Schedule

from .job_fixtures import *  # noqa: F403
from .job_fixtures import SPEC, make_job


def test_it_makes_due_jobs_and_releases_expired_leases(machine):
    group = MachineGroup.objects.create(name="g")
    group.machines.add(machine)
    Schedule.objects.create(name="s", group=group, **SPEC)
    make_job(machine)
    jobs.claim(machine, 30)
    Job.objects.filter(status="claimed").update(lease_expires=timezone.now() - timedelta(seconds=1))
    out = io.StringIO()
    call_command("enqueue_jobs", stdout=out)
    assert out.getvalue().strip() == "made 1 job(s); re-queued 1 and failed 0 with an expired lease"
    assert Job.objects.filter(status="queued").count() == 2
    out = io.StringIO()
    call_command("enqueue_jobs", stdout=out)
    assert out.getvalue().startswith("made 0 job(s); re-queued 0")
