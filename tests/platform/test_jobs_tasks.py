"""The Celery tasks (in-process here) are thin and idempotent over fleet.jobs."""
from datetime import timedelta

from django.utils import timezone

from fleet import jobs, tasks
from fleet.models import FAILED, QUEUED, Job, MachineGroup, Schedule

from .job_fixtures import *  # noqa: F403
from .job_fixtures import SPEC, make_job


def test_the_enqueue_task_makes_jobs_for_due_schedules_once(machine):
    group = MachineGroup.objects.create(name="g")
    group.machines.add(machine)
    Schedule.objects.create(name="s", group=group, **SPEC)
    assert tasks.enqueue_scheduled_jobs.delay().get() == 1
    assert tasks.enqueue_scheduled_jobs.delay().get() == 0
    assert Job.objects.get().status == QUEUED


def test_the_release_task_requeues_and_fails_expired_leases(machine):
    make_job(machine)
    make_job(machine, max_attempts=1)
    jobs.claim(machine, 30)
    jobs.claim(machine, 30)
    Job.objects.update(lease_expires=timezone.now() - timedelta(seconds=1))
    assert tasks.release_expired_leases.delay().get() == {"requeued": 1, "failed": 1}
    assert sorted(Job.objects.values_list("status", flat=True)) == sorted([QUEUED, FAILED])
    assert tasks.release_expired_leases.delay().get() == {"requeued": 0, "failed": 0}


def test_the_tasks_are_acks_late():
    assert tasks.enqueue_scheduled_jobs.acks_late and tasks.release_expired_leases.acks_late
