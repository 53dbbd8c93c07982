"""Due schedules become one job per enabled machine of their group
(fleet.jobs.enqueue_scheduled): once per interval, and never two unfinished
jobs of one schedule for one machine."""
import logging

import pytest
from django.db import IntegrityError, transaction

from fleet.jobs import enqueue_scheduled
from fleet.models import CLAIMED, KIND_SCHEDULE, QUEUED, Job, Machine, MachineGroup, Schedule

from .job_fixtures import *  # noqa: F403
from .job_fixtures import SPEC, later


@pytest.fixture
def group(machine, other_machine) -> MachineGroup:
    group = MachineGroup.objects.create(name="rack-7")
    group.machines.set([machine, other_machine])
    return group


@pytest.fixture
def schedule(group) -> Schedule:
    return Schedule.objects.create(name="mlp nightly", group=group, interval_seconds=3600, **SPEC)


def _pending(schedule) -> list[tuple[str, str]]:
    return sorted(Job.objects.filter(schedule=schedule).values_list("machine__name", "status"))


def test_a_due_schedule_makes_one_job_per_machine_with_its_spec(schedule):
    assert enqueue_scheduled(now=later(0)) == 2
    assert _pending(schedule) == [("m1", QUEUED), ("m2", QUEUED)]
    job = Job.objects.filter(schedule=schedule).first()
    assert job.kind == KIND_SCHEDULE and job.spec() == schedule.spec() and job.created == later(0)
    schedule.refresh_from_db()
    assert schedule.last_enqueued == later(0)


def test_running_it_again_within_the_interval_makes_nothing(schedule):
    enqueue_scheduled(now=later(0))
    assert enqueue_scheduled(now=later(0)) == 0
    assert enqueue_scheduled(now=later(3599)) == 0
    assert Job.objects.count() == 2


def test_a_machine_with_an_unfinished_job_of_the_schedule_gets_no_second_one(schedule, machine):
    enqueue_scheduled(now=later(0))
    Job.objects.filter(machine__name="m2").update(status="done")
    Job.objects.filter(machine=machine).update(status=CLAIMED)
    assert enqueue_scheduled(now=later(3600)) == 1  # m2 only: m1 is still busy with the last one
    assert _pending(schedule) == [("m1", CLAIMED), ("m2", "done"), ("m2", QUEUED)]


def test_disabled_schedules_and_machines_get_no_jobs(schedule, other_machine):
    Machine.objects.filter(pk=other_machine.pk).update(enabled=False)
    assert enqueue_scheduled(now=later(0)) == 1
    Schedule.objects.filter(pk=schedule.pk).update(enabled=False)
    assert enqueue_scheduled(now=later(10**6)) == 0


def test_each_schedule_keeps_its_own_interval(group, schedule):
    hourly_twice = Schedule.objects.create(name="fast", group=group, interval_seconds=1800, **SPEC)
    assert enqueue_scheduled(now=later(0)) == 4
    Job.objects.update(status="done")
    assert enqueue_scheduled(now=later(1800)) == 2
    assert Job.objects.filter(schedule=hourly_twice).count() == 4


def test_a_schedule_with_a_bad_spec_makes_no_jobs_and_says_why(group, caplog):
    bad = Schedule.objects.create(name="broken", group=group, **{**SPEC, "config": {"threads": 4}})
    with caplog.at_level(logging.ERROR, logger="fleet.jobs"):
        assert enqueue_scheduled(now=later(0)) == 0
    assert "broken" in caplog.text and "threads is a field of the job" in caplog.text
    assert Schedule.objects.get(pk=bad.pk).last_enqueued is None


def test_the_database_refuses_a_second_unfinished_job_of_a_schedule(schedule, machine):
    enqueue_scheduled(now=later(0))
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(machine=machine, schedule=schedule, kind=KIND_SCHEDULE, **SPEC)


def test_the_schedule_form_checks_the_spec(group):
    from django.core.exceptions import ValidationError

    schedule = Schedule(name="x", group=group, **{**SPEC, "config": {"passes": "fuse"}, "repeats": 0})
    with pytest.raises(ValidationError) as error:
        schedule.full_clean()
    assert set(error.value.message_dict) >= {"config", "repeats"}
