"""The whole CI loop on this machine: signed push webhooks -> commit jobs ->
the agent daemon runs each commit's own engine -> ingest -> detection -> an
alert -> a signed outbound webhook to a local receiver, and `ci-check`
exiting 1 for the commit that regressed and 0 for a clean one.

The repository holds the engine (tests/integration/engine_repo.py); its
commit BEFORE makes the Linear kernel wait 50 ms, the others change nothing
the engine reads."""
import io
import json
import time

import pytest
import requests

from agents.ci_check import Api, check
from agents.register import machine_fingerprint
from agents.state import AgentState
from fleet.models import Job, Machine, MachineGroup, Schedule
from notify.models import Delivery, WebhookEndpoint, WebhookSecret
from notify.signing import github_signature, roofwatch_signature
from regressions.models import AlertSummary
from results.canonical import canonical_sha256
from results.models import Benchmark, Project, Run
from tests.agents.conftest import engine_env, write_agent_config  # noqa: F401  (fixture)
from tests.agents.daemon_helpers import FAST, run_agent_until
from tests.integration.engine_repo import engine_repo
from tests.notify.receiver import Receiver
from tests.notify.worker import notify_workers, wait_for  # noqa: F401  (fixture)

REPOSITORY = "https://github.com/example/loop"
PARAMS = {"batch": 8}
# Detection needs 3 points on either side of a change (regressions.changepoints.MIN_SEGMENT) and, on a
# series this short, more to clear its threshold: with 5 + 4 it found nothing, 6 + 6 is enough.
BEFORE, AFTER = 6, 6


def push(url: str, secret: str, commit: str, delivery: str) -> requests.Response:
    """A signed push event to `url`, the project's GitHub hook."""
    body = json.dumps({"ref": "refs/heads/main", "after": commit, "repository": {"html_url": REPOSITORY}}).encode()
    return requests.post(url, data=body, timeout=30, headers={
        "Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": github_signature(secret, body)})


def ci_check(url: str, token: str, commit: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = check(Api(url, token), commit, wait=60, threshold_pct=5, poll=0.5, settle=1, out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def summary_of(first_bad: str):
    """The alert summary whose first bad commit is `first_bad`, once it is there and delivered."""
    for summary in AlertSummary.objects.all():
        if summary.attribution.get("commits", {}).get("first_bad") == first_bad:
            if Delivery.objects.filter(summary=summary, delivered_at__isnull=False).exists():
                return summary
    return None


@pytest.fixture(autouse=True)
def no_auto_bisect(settings, monkeypatch):
    """This is the CI loop: the bisection its alert would start by itself (the machine ran the
    repository's commit jobs) is tests/integration/test_bisect_end_to_end.py's. Off here and in workers."""
    settings.ROOFWATCH_AUTO_BISECT = False
    monkeypatch.setenv("ROOFWATCH_AUTO_BISECT", "0")


@pytest.fixture(params=["eager", "worker"])
def celery_mode(request):
    """Tasks in-process (eager), or on a real Celery worker over Redis with PostgreSQL."""
    if request.param == "worker":
        request.getfixturevalue("notify_workers").start()
    return request.param


@pytest.mark.timeout(600)
def test_a_pushed_regression_alerts_the_receiver_and_fails_ci_check(transactional_db, live_server, tmp_path,
                                                                    engine_env, celery_mode):
    repo = tmp_path / "repo"
    repo.mkdir()
    shas = engine_repo(repo, BEFORE + AFTER, slow_at=BEFORE)
    project = Project.objects.create(name="example/loop", repository_url=REPOSITORY)
    Benchmark.objects.create(project=project, model="mlp", params=PARAMS, params_hash=canonical_sha256(PARAMS))
    secret, hook = WebhookSecret.rotate(project), f"{live_server.url}/hooks/github/{project.pk}/"
    machine = Machine.objects.create(name="loop-1")
    token = machine.rotate_token()
    group = MachineGroup.objects.create(name="ci")
    group.machines.set([machine])
    Schedule.objects.create(name="mlp", group=group, model="mlp", params=PARAMS, warmup=1, repeats=5,
                            timeout_seconds=120, interval_seconds=365 * 24 * 3600, last_enqueued="2100-01-01T00:00Z")
    receiver = Receiver()
    try:
        WebhookEndpoint.objects.create(project=project, name="ci", kind="generic", url=receiver.url, secret="out-s")
        for i, sha in enumerate(shas):
            assert push(hook, secret, sha, f"push-{i}").json()["jobs_created"] == 1
        assert push(hook, secret, shas[0], "push-0").json()["duplicate"] is True

        spool = tmp_path / "spool"
        spool.mkdir()
        AgentState(spool).update(peaks_fingerprint=machine_fingerprint(), peaks_measured_at=time.time())
        cfg = write_agent_config(tmp_path / "agent.toml", live_server.url, spool, token=token, engine=[],
                                 extra=f'{FAST}[repository]\npath = "{repo}"\n')
        run_agent_until(cfg, lambda: not Job.objects.filter(status__in=("queued", "claimed")).exists(), timeout=400)
        assert list(Job.objects.order_by("id").values_list("status", flat=True)) == ["done"] * (BEFORE + AFTER), list(
            Job.objects.values_list("error", flat=True))
        assert sorted(Run.objects.values_list("commit", flat=True)) == sorted(shas)

        summary = wait_for(lambda: summary_of(shas[BEFORE]), 90, "the regression's alert to be delivered")
        delivery = Delivery.objects.get(summary=summary)
        assert delivery.state == "delivered"
        seen = [r for r in receiver.requests if r.json()["summary"]["id"] == summary.pk]
        assert len(seen) == 1
        headers = {k.lower(): v for k, v in seen[0].headers.items()}
        assert headers["x-roofwatch-signature"] == roofwatch_signature("out-s", headers["x-roofwatch-timestamp"],
                                                                       seen[0].body)

        # The summary is sent when first filed; detection of the later runs (on a worker, behind the
        # ingests) may still be adding its layer alerts.
        wait_for(lambda: summary.alerts.filter(layer="fc1", vanished_at=None).exists(), 90, "the layer's alert")
        code, text = ci_check(live_server.url, token, shas[BEFORE])
        assert code == 1, text
        assert "fc1" in text
        code, text = ci_check(live_server.url, token, shas[2])
        assert code == 0, text
    finally:
        receiver.close()
