"""The beat task that makes scheduled jobs runs on a real Celery worker over
the broker, against PostgreSQL, and a redelivery of it adds nothing."""
from fleet.models import Job, Machine, MachineGroup, Schedule

SPEC = {"model": "mlp", "params": {"batch": 4}, "config": {}, "warmup": 1, "repeats": 3, "timeout_seconds": 60}


def test_a_real_worker_makes_the_jobs_of_due_schedules_once(celery_worker_process):
    from fleet.tasks import enqueue_scheduled_jobs, release_expired_leases

    group = MachineGroup.objects.create(name="g")
    group.machines.set([Machine.objects.create(name="w1"), Machine.objects.create(name="w2")])
    Schedule.objects.create(name="nightly", group=group, **SPEC)
    assert enqueue_scheduled_jobs.delay().get(timeout=60) == 2
    assert enqueue_scheduled_jobs.delay().get(timeout=60) == 0
    assert sorted(Job.objects.values_list("machine__name", "status")) == [("w1", "queued"), ("w2", "queued")]
    assert release_expired_leases.delay().get(timeout=60) == {"requeued": 0, "failed": 0}
