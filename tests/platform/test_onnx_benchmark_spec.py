"""An ONNX file of the project's repository as the benchmark of a schedule or
a commit job (model "onnx", params.path): validated as the agent validates
its TOML (engine.onnx_spec), errors naming the key; the job carries its
project's kind (engine or model under test), and a run stores the kind and
the engine version its report records."""
import pytest
from django.core.exceptions import ValidationError

from fleet.jobs import enqueue_commit
from fleet.models import Job, MachineGroup, Schedule
from results.models import Project, Run
from tests.report_factory import make_report

from .job_fixtures import *  # noqa: F403

REPO = "https://git.example/models.git"
SHA = "0123456789abcdef0123456789abcdef01234567"
PARAMS = {"path": "models/ranker.onnx", "batch": 16, "input_ranges": {"ids": [0, 1000]}}


def test_a_commit_job_of_an_onnx_file_is_made_with_its_project_kind(machine):
    (job,) = enqueue_commit([machine], REPO, SHA, model="onnx", params=PARAMS, config={"flags": {"a": 1}},
                            under_test="model")
    job.refresh_from_db()
    assert (job.model, job.params, job.under_test) == ("onnx", PARAMS, "model")
    # the default stays today's behaviour: the commit's engine is under test
    (other,) = enqueue_commit([machine], REPO, SHA, model="mlp")
    assert other.under_test == "engine"


@pytest.mark.parametrize("params,message", [
    ({"batch": 2}, "params.path: missing"),
    ({"path": "../ranker.onnx"}, "params.path: expected a normalized path"),
    ({"path": "ranker.onnx", "batch": 0}, "params.batch: expected a whole number"),
    ({"path": "ranker.onnx", "input_ranges": {"ids": [3, 1]}}, "params.input_ranges: ids: expected [lo, hi]"),
    ({"path": "ranker.onnx", "sizes": [2]}, "params.sizes: unknown key"),
])
def test_a_bad_onnx_spec_is_refused_naming_the_key(machine, params, message):
    with pytest.raises(ValidationError) as info:
        enqueue_commit([machine], REPO, SHA, model="onnx", params=params)
    assert any(message in m for m in info.value.message_dict["params"]), info.value.message_dict
    assert not Job.objects.exists()


def test_a_schedule_of_an_onnx_file_is_checked_when_saved(machine):
    group = MachineGroup.objects.create(name="g")
    bad = Schedule(name="ranker", group=group, model="onnx", params={"path": "/abs/ranker.onnx"})
    with pytest.raises(ValidationError) as info:
        bad.full_clean()
    assert "params.path" in str(info.value.message_dict["params"])
    Schedule(name="ranker", group=group, model="onnx", params=PARAMS).full_clean()


def test_the_claim_answer_says_what_is_under_test(machine, agent):
    enqueue_commit([machine], REPO, SHA, model="onnx", params=PARAMS, under_test="model")
    answer = agent.claim(lease_seconds=60).json()
    assert answer["under_test"] == "model" and answer["benchmark"] == {"model": "onnx", "params": PARAMS}


def test_a_run_stores_what_was_under_test_and_the_engine_version(upload, client):
    report = make_report(model="onnx", source={"under_test": "model", "engine_version": "roofwatch 0.1.0 (abc)"})
    report["benchmark"]["params"] = {"path": "models/ranker.onnx"}
    assert upload(report).status_code == 201
    run = Run.objects.get()
    assert (run.under_test, run.engine_version) == ("model", "roofwatch 0.1.0 (abc)")
    assert run.benchmark.params == {"path": "models/ranker.onnx"}
    served = client.get(f"/api/v1/runs/{run.pk}/").json()
    assert (served["under_test"], served["engine_version"]) == ("model", "roofwatch 0.1.0 (abc)")
    bad = make_report(source={"under_test": "weights"})
    response = upload(bad)
    assert response.status_code == 400 and "source.under_test" in response.content.decode()


def test_a_report_without_them_stores_empty_values(upload):
    assert upload(make_report()).status_code == 201
    assert (Run.objects.get().under_test, Run.objects.get().engine_version) == ("", "")


def test_a_project_is_engine_under_test_unless_set(db):
    assert Project.objects.create(name="p", repository_url=REPO).under_test == "engine"
