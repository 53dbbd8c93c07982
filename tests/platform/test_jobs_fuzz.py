"""Fuzzed bodies and ids on the agent's job endpoints never get a 5xx, and a
4xx leaves the job as it was. Bounded examples; no example database."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.models import Job

from .job_fixtures import *  # noqa: F403
from .job_fixtures import make_job

FUZZ = settings(max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
ODD = st.sampled_from([None, True, -1, 0, 2**63, 10**40, 1e308, float("nan"), "", "\x00", "\ud800", "x" * 5000, [],
                       {}, {"a": [1]}])
VALUES = st.one_of(ODD, st.integers(), st.floats(allow_nan=True), st.text(max_size=20), st.booleans())
KEYS = st.sampled_from(["lease", "run", "error", "stderr_tail", "timed_out", "lease_seconds", "other"])
BODIES = st.one_of(st.dictionaries(KEYS, VALUES, max_size=5), VALUES)


def _state(job_id: int) -> tuple:
    return Job.objects.filter(pk=job_id).values_list("status", "lease_hash", "lease_expires", "run_id", "error").get()


@FUZZ
@given(body=BODIES, endpoint=st.sampled_from(["claim", "heartbeat", "complete"]), use_lease=st.booleans())
def test_fuzzed_job_bodies_never_get_a_server_error(agent, machine, body, endpoint, use_lease):
    job = make_job(machine)  # examples share the database: every earlier job is claimed or finished
    claimed = agent.claim().json()
    assert claimed["id"] == job.pk
    if use_lease and isinstance(body, dict) and "lease" in body:
        body["lease"] = claimed["lease"]
    before = _state(job.pk)
    url = "/api/v1/jobs/claim" if endpoint == "claim" else f"/api/v1/jobs/{job.pk}/{endpoint}"
    response = agent.post(url, json.dumps(body, allow_nan=True))
    assert response.status_code < 500, response.content[:1000]
    if response.status_code >= 400:
        assert "detail" in response.json()
        assert _state(job.pk) == before


@FUZZ
@given(job_id=st.text(min_size=1, max_size=25))
def test_fuzzed_job_ids_in_paths_never_get_a_server_error(agent, client, machine, job_id):
    from urllib.parse import quote

    for url in (f"/api/v1/jobs/{quote(job_id, safe='')}/", f"/api/v1/jobs/{quote(job_id, safe='')}/heartbeat"):
        response = client.get(url) if url.endswith("/") else agent.post(url, {"lease": "x"})
        assert response.status_code in (200, 404, 409), (url, response.status_code)
