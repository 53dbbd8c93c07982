"""CI asks for a commit to be benchmarked on some machines (fleet.jobs.enqueue_commit)."""
import pytest
from django.core.exceptions import ValidationError

from fleet.jobs import enqueue_commit
from fleet.models import KIND_COMMIT, QUEUED, Job

from .job_fixtures import *  # noqa: F403

REPO = "https://git.example/engine.git"
SHA = "0123456789ABCDEF0123456789abcdef01234567"


def test_it_makes_one_commit_job_per_machine(machine, other_machine):
    made = enqueue_commit([machine, other_machine], REPO, SHA, model="dlrm", params={"batch": 32})
    assert [job.machine.name for job in made] == ["m1", "m2"]
    job = Job.objects.get(machine=machine)
    assert (job.kind, job.status, job.repository, job.commit) == (KIND_COMMIT, QUEUED, REPO, SHA.lower())
    assert (job.model, job.params, job.config, job.repeats, job.schedule) == ("dlrm", {"batch": 32}, {}, 10, None)


def test_a_redelivered_request_adds_no_second_job(machine):
    enqueue_commit([machine], REPO, SHA, model="dlrm")
    assert enqueue_commit([machine], REPO, SHA.lower(), model="dlrm") == []
    assert len(enqueue_commit([machine], REPO, SHA, model="dlrm", params={"batch": 2})) == 1  # another benchmark
    Job.objects.update(status="done")
    assert len(enqueue_commit([machine], REPO, SHA, model="dlrm")) == 1  # asked again after it ran
    assert Job.objects.count() == 3


@pytest.mark.parametrize(
    "repository, commit, spec, fields",
    [
        (REPO, "main", {}, {"commit"}),
        (REPO, "abc", {}, {"commit"}),
        ("", SHA, {}, {"repository"}),
        (REPO, SHA, {"model": ""}, {"model"}),
        (REPO, SHA, {"params": [1]}, {"params"}),
        (REPO, SHA, {"config": {"quant": 8, "unknown": 1}}, {"config"}),
        (REPO, SHA, {"repeats": 0, "warmup": -1, "threads": 0, "timeout_seconds": True},
         {"repeats", "warmup", "threads", "timeout_seconds"}),
    ],
)
def test_a_bad_request_names_every_bad_field_and_makes_nothing(machine, repository, commit, spec, fields):
    with pytest.raises(ValidationError) as error:
        enqueue_commit([machine], repository, commit, **{"model": "mlp", **spec})
    assert set(error.value.message_dict) == fields
    assert not Job.objects.exists()


def test_a_commit_job_is_claimed_with_its_source(machine):
    from fleet.jobs import claim

    enqueue_commit([machine], REPO, SHA, model="mlp", config={"quant": "int8"})
    claimed = claim(machine)
    assert (claimed.job.commit, claimed.job.full_config["quant"]) == (SHA.lower(), "int8")
