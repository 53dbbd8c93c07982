"""Fixed fixtures of the job tests: machines m1 (with its token) and m2, jobs
made with one spec, and an `agent` client that speaks the jobs API with m1's
token. Import the fixtures with `from .job_fixtures import *`."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.test import Client

from fleet.models import KIND_SCHEDULE, Job, Machine

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=dt_timezone.utc)
SPEC = {"model": "mlp", "params": {"batch": 8}, "config": {"passes": ["fuse_gemm_bias"]}, "warmup": 2,
        "repeats": 5, "threads": 1, "timeout_seconds": 300}


def make_job(machine: Machine, **fields) -> Job:
    return Job.objects.create(machine=machine, **{"kind": KIND_SCHEDULE, **SPEC, **fields})


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Agent:
    """POSTs JSON to the jobs API with a machine token (None: no header)."""

    def __init__(self, client: Client, token: str | None) -> None:
        self.client, self.token = client, token

    def post(self, url: str, body=None, token: str | None = "default"):
        token = self.token if token == "default" else token
        headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token is not None else {}
        data = body if isinstance(body, (str, bytes)) else json.dumps({} if body is None else body)
        return self.client.post(url, data, content_type="application/json", **headers)

    def claim(self, **body):
        return self.post("/api/v1/jobs/claim", body)

    def heartbeat(self, job_id: int, lease: str, **kwargs):
        return self.post(f"/api/v1/jobs/{job_id}/heartbeat", {"lease": lease}, **kwargs)

    def complete(self, job_id: int, body: dict, **kwargs):
        return self.post(f"/api/v1/jobs/{job_id}/complete", body, **kwargs)


@pytest.fixture
def other_machine(db) -> Machine:
    return Machine.objects.create(name="m2")


@pytest.fixture
def agent(client: Client, token: str) -> Agent:
    return Agent(client, token)


__all__ = ["T0", "SPEC", "Agent", "agent", "other_machine", "make_job", "later"]
