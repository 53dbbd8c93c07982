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


def hook_url(kind: str, project_id: int) -> str:
    """The hook URL of a project: /hooks/github/<id>/ or /hooks/ci/<id>/."""
    return f"/hooks/{kind}/{project_id}/"


@pytest.fixture
def post_github(client, project, secret):
    """POST a GitHub event to the project's hook, signed with its secret unless `key` or `signature` say
    otherwise; `body` sends raw bytes instead of `payload`, `project_id` another project's URL; `extra`
    goes to the test client (REMOTE_ADDR, HTTP_X_FORWARDED_FOR)."""
    def post(payload: dict | None = None, event: str = "push", delivery: str = "d-1", key: str | None = None,
             signature=None, body: bytes | None = None, project_id: int | None = None, **extra):
        body = json.dumps(payload).encode() if body is None else body
        headers = {**extra, "HTTP_X_GITHUB_EVENT": event, "HTTP_X_GITHUB_DELIVERY": delivery,
                   "HTTP_X_HUB_SIGNATURE_256": signature if signature is not None
                   else github_signature(key or secret, body)}
        url = hook_url("github", project.pk if project_id is None else project_id)
        return client.post(url, body, content_type="application/json", **headers)

    return post


@pytest.fixture
def post_ci(client, project, secret):
    """POST a CI hook body to the project's hook, signed like post_github."""
    def post(payload: dict | None = None, timestamp: int | None = None, key: str | None = None,
             delivery: str | None = None, signature=None, body: bytes | None = None, project_id: int | None = None,
             **extra):
        body = json.dumps(payload).encode() if body is None else body
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {**extra, "HTTP_X_ROOFWATCH_TIMESTAMP": ts,
                   "HTTP_X_ROOFWATCH_SIGNATURE": signature if signature is not None
                   else roofwatch_signature(key or secret, ts, body)}
        if delivery:
            headers["HTTP_X_ROOFWATCH_DELIVERY"] = delivery
        url = hook_url("ci", project.pk if project_id is None else project_id)
        return client.post(url, body, content_type="application/json", **headers)

    return post


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.close()
