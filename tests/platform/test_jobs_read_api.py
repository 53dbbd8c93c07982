"""People read jobs: GET /api/v1/jobs/?machine=&status=&kind= (newest first) and
GET /api/v1/jobs/<id>/. Leases never show."""
import pytest

from fleet.models import KIND_COMMIT, Job

from .job_fixtures import *  # noqa: F403
from .job_fixtures import make_job


@pytest.fixture
def some_jobs(machine, other_machine):
    return [
        make_job(machine),
        make_job(machine, status="done", run_id=7),
        make_job(other_machine, kind=KIND_COMMIT, repository="https://git.example/e.git", commit="c" * 40),
    ]


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [job["id"] for job in response.json()["results"]]


def test_it_lists_jobs_newest_first(client, some_jobs):
    assert _ids(client.get("/api/v1/jobs/")) == [job.pk for job in reversed(some_jobs)]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"machine": "m1"}, [1, 0]),
        ({"machine": "m2"}, [2]),
        ({"machine": "nobody"}, []),
        ({"status": "done"}, [1]),
        ({"machine": "m1", "status": "queued"}, [0]),
        ({"kind": "commit"}, [2]),
        ({"status": ""}, [2, 1, 0]),
    ],
)
def test_it_filters_by_machine_status_and_kind(client, some_jobs, params, expected):
    assert _ids(client.get("/api/v1/jobs/", params)) == [some_jobs[i].pk for i in expected]


@pytest.mark.parametrize("params, field", [({"status": "running"}, "status"), ({"kind": "cron"}, "kind"),
                                           ({"machine": "m\x001"}, "machine"), ({"offset": str(10**10)}, "offset")])
def test_a_bad_filter_is_a_400_naming_it(client, some_jobs, params, field):
    response = client.get("/api/v1/jobs/", params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_one_job_shows_its_spec_and_outcome_but_no_lease(client, agent, machine):
    job = make_job(machine)
    lease = agent.claim().json()["lease"]
    body = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["url"] == f"/api/v1/jobs/{job.pk}/"
    assert (body["machine"], body["status"], body["attempts"], body["schedule"]) == ("m1", "claimed", 1, None)
    assert body["benchmark"] == {"model": "mlp", "params": {"batch": 8}}
    text = str(body)
    assert lease not in text and Job.objects.get().lease_hash not in text and "lease_hash" not in body


@pytest.mark.parametrize("path", ["/api/v1/jobs/999/", "/api/v1/jobs/" + "9" * 30 + "/", "/api/v1/jobs/claim/",
                                  "/api/v1/jobs/abc/"])
def test_unknown_jobs_are_404(client, db, path):
    assert client.get(path).status_code == 404
