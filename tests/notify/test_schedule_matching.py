"""A pushed commit runs on the enabled machines of the enabled schedules whose
model and params the project benchmarks, with each schedule's spec."""
from engine.models import get_spec
from fleet.models import Job, Machine, MachineGroup, Schedule
from results.models import Benchmark
from tests.notify.conftest import SPEC, push_event


def test_it_skips_schedules_of_other_benchmarks_disabled_schedules_and_disabled_machines(post_github, fleet):
    other = MachineGroup.objects.create(name="other")
    other.machines.set([Machine.objects.create(name="x1")])
    Schedule.objects.create(name="other-model", group=other, **{**SPEC, "model": "dlrm_small"})
    Schedule.objects.create(name="other-batch", group=other, **{**SPEC, "params": {"batch": 8}})
    Schedule.objects.create(name="off", group=other, enabled=False, **SPEC)
    Machine.objects.filter(name="w2").update(enabled=False)
    assert post_github(push_event()).json()["jobs_created"] == 1
    assert list(Job.objects.values_list("machine__name", "repeats")) == [("w1", 3)]


def test_it_makes_no_jobs_for_a_project_no_schedule_benchmarks(post_github, project, fleet):
    project.benchmarks.all().delete()
    assert post_github(push_event()).json()["jobs_created"] == 0


def test_a_model_under_test_projects_jobs_say_so(post_github, project, fleet):
    """The project's kind goes with each commit job it makes (its agent runs the file at the commit)."""
    assert post_github(push_event()).json()["jobs_created"] == 2
    assert set(Job.objects.values_list("under_test", flat=True)) == {"engine"}
    Job.objects.all().delete()
    project.under_test = "model"
    project.save()
    assert post_github(push_event("1" * 40), delivery="d-2").json()["jobs_created"] == 2
    assert set(Job.objects.values_list("under_test", flat=True)) == {"model"}


def test_a_schedule_leaving_params_to_the_models_defaults_matches_the_benchmark_its_runs_store(
        post_github, project, fleet):
    """Reports store every param, defaults filled in; a schedule may give none."""
    Benchmark.objects.filter(project=project).update(params=get_spec("mlp").resolve({}))
    fleet.params = {}
    fleet.save()
    assert post_github(push_event()).json()["jobs_created"] == 2
    fleet.params = {"batch": 4}  # another benchmark than the project's (the default batch is not 4)
    fleet.save()
    assert post_github(push_event("1" * 40), delivery="d-2").json()["jobs_created"] == 0
