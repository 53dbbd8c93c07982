"""Fixed fixtures of the ingest tests: machine "m1" with a fresh token, a
client that uploads reports with it, and snapshots to prove nothing was written."""
from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.forms.models import model_to_dict
from django.test import Client

from fleet.models import Machine
from results.models import Benchmark, LayerMeasurement, Project, Run

RUNS_URL = "/api/v1/runs/"


@pytest.fixture
def machine(db) -> Machine:
    return Machine.objects.create(name="m1")


@pytest.fixture
def token(machine: Machine) -> str:
    return machine.rotate_token()


@pytest.fixture
def upload(client: Client, token: str) -> Callable:
    """POST a report (a dict, or a str/bytes body sent as is) with m1's token
    unless `token` says otherwise (None: no Authorization header)."""

    def post(report, token: str | None = token, **headers):
        body = report if isinstance(report, (str, bytes)) else json.dumps(report)
        if token is not None:
            headers.setdefault("HTTP_AUTHORIZATION", f"Token {token}")
        return client.post(RUNS_URL, body, content_type="application/json", **headers)

    return post


def row_counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (Project, Benchmark, Run, LayerMeasurement)}


def machine_state(machine: Machine) -> dict:
    return model_to_dict(Machine.objects.get(pk=machine.pk))
