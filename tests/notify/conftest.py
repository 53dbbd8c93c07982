"""Fixtures of the notify tests: a project with a webhook secret, a schedule
that benchmarks it on two machines, signed requests to the hooks, and a
loopback HTTP receiver."""
from __future__ import annotations

import hashlib
import json
import time

import pytest

from fleet.models import Machine, MachineGroup, Schedule
from notify.models import WebhookSecret
from notify.signing import github_signature, roofwatch_signature
from results.models import Benchmark, Project
from tests.notify.receiver import Receiver

REPOSITORY = "https://github.com/example/roofwatch-models"
SHA = "0123456789abcdef0123456789abcdef01234567"
SPEC = {"model": "mlp", "params": {"batch": 4}, "config": {}, "warmup": 1, "repeats": 3, "timeout_seconds": 60}


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def project(db) -> Project:
    project = Project.objects.create(name="example/roofwatch-models", repository_url=REPOSITORY)
    Benchmark.objects.create(project=project, model="mlp", params={"batch": 4},
                             params_hash=hashlib.sha256(b'{"batch":4}').hexdigest())
    return project


@pytest.fixture
def secret(project) -> str:
    return WebhookSecret.rotate(project)


@pytest.fixture
def fleet(project):
    """Group "ci" of machines w1 and w2 with the schedule "nightly" of the project's mlp benchmark."""
    group = MachineGroup.objects.create(name="ci")
    group.machines.set([Machine.objects.create(name="w1"), Machine.objects.create(name="w2")])
    return Schedule.objects.create(name="nightly", group=group, **SPEC)


def push_event(commit: str = SHA, repository: str = REPOSITORY, ref: str = "refs/heads/main") -> dict:
    return {"ref": ref, "after": commit, "deleted": False, "compare": f"{repository}/compare/x...y",
            "repository": {"html_url": repository, "full_name": "example/roofwatch-models"}}


@pytest.fixture
def post_github(client, secret):
    def post(payload: dict, event: str = "push", delivery: str = "d-1", key: str | None = None, signature=None):
        body = json.dumps(payload).encode()
        headers = {"HTTP_X_GITHUB_EVENT": event, "HTTP_X_GITHUB_DELIVERY": delivery,
                   "HTTP_X_HUB_SIGNATURE_256": signature if signature is not None
                   else github_signature(key or secret, body)}
        return client.post("/hooks/github/", body, content_type="application/json", **headers)

    return post


@pytest.fixture
def post_ci(client, secret):
    def post(payload: dict, timestamp: int | None = None, key: str | None = None, delivery: str | None = None,
             signature=None):
        body = json.dumps(payload).encode()
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {"HTTP_X_ROOFWATCH_TIMESTAMP": ts,
                   "HTTP_X_ROOFWATCH_SIGNATURE": signature if signature is not None
                   else roofwatch_signature(key or secret, ts, body)}
        if delivery:
            headers["HTTP_X_ROOFWATCH_DELIVERY"] = delivery
        return client.post("/hooks/ci/", body, content_type="application/json", **headers)

    return post


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.close()
