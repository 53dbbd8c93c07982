"""Auto-bisect on this machine: a real git repository of 16 engine commits, one
of which makes the Linear kernel slower; the fleet measured only the first and
the last, and an alert names that range. The bisection starts by itself, a
real agent daemon lists the range and runs each commit's own engine, the
platform (eagerly, or on a real Celery worker over Redis with PostgreSQL)
narrows the range, and the alert page names the culprit; halfway the agent
is restarted and the worker killed and replaced, and nothing is lost."""
import math
import os
import time
from pathlib import Path

import pytest
import requests

from agents.register import machine_fingerprint
from agents.state import AgentState
from bisection import runner
from bisection.models import ACTIVE, FOUND, Bisection
from bisection.steps import steps
from engine.report import END_TO_END
from fleet import jobs as fleet_jobs
from fleet.models import Machine
from regressions.attribution import attribute, summary_key
from regressions.models import REGRESSION, Alert, AlertSummary
from results.canonical import canonical_sha256
from results.models import Benchmark, Project, Run
from tests.agents.conftest import engine_env, write_agent_config  # noqa: F401  (fixture)
from tests.agents.daemon_helpers import FAST, run_agent_until
from tests.conftest import REPO
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT
from tests.integration.engine_repo import SLOW_SUBJECT, engine_repo
from tests.notify.worker import notify_workers  # noqa: F401  (fixture)

REPOSITORY = "https://github.com/example/bisect"
PARAMS = {"batch": 8}
COMMITS, SLOW_AT = 16, 9
DOC_IMAGE = Path(REPO) / "docs" / "images" / "alert-bisection.png"
SPEC = {"model": "mlp", "params": PARAMS, "config": {}, "warmup": 1, "repeats": 5, "threads": 1,
        "timeout_seconds": 120}


@pytest.fixture(params=["eager", "worker"])
def workers(request):
    """None: tasks in-process (eager); else real Celery workers over Redis with PostgreSQL, one started."""
    if request.param == "eager":
        return None
    workers = request.getfixturevalue("notify_workers")
    workers.start()
    return workers


def alert_between(run_before: Run, run_after: Run) -> AlertSummary:
    """The alert detection would file for this end-to-end change (detection itself needs more runs
    on each side than this test makes; tests/integration/test_ci_loop.py covers that part)."""
    attribution = attribute(run_before, run_after)
    project_id = run_after.benchmark.project_id
    summary = AlertSummary.objects.create(key=summary_key(project_id, attribution), project_id=project_id,
                                          attribution=attribution)
    Alert.objects.create(summary=summary, original_summary=summary, machine=run_after.machine,
                         benchmark=run_after.benchmark, layer=END_TO_END, run_before=run_before, run_after=run_after,
                         before=run_before.median, after=run_after.median,
                         rel_change=run_after.median / run_before.median - 1, confidence=0.99, direction=REGRESSION)
    return summary


@pytest.mark.timeout(900)
def test_the_bisection_names_the_commit_that_made_the_kernel_slower(transactional_db, live_server, tmp_path,
                                                                    engine_env, workers):
    repo = tmp_path / "repo"
    repo.mkdir()
    shas = engine_repo(repo, COMMITS, slow_at=SLOW_AT)
    project = Project.objects.create(name="example/bisect", repository_url=REPOSITORY)
    Benchmark.objects.create(project=project, model="mlp", params=PARAMS, params_hash=canonical_sha256(PARAMS))
    machine = Machine.objects.create(name="bisect-1")
    token = machine.rotate_token()
    spool = tmp_path / "spool"
    spool.mkdir()
    AgentState(spool).update(peaks_fingerprint=machine_fingerprint(), peaks_measured_at=time.time())
    cfg = write_agent_config(tmp_path / "agent.toml", live_server.url, spool, token=token, engine=[],
                             extra=f'{FAST}[repository]\npath = "{repo}"\n')

    # The fleet measured the first and the last commit only.
    for sha in (shas[0], shas[-1]):
        fleet_jobs.enqueue_commit([machine], REPOSITORY, sha, **SPEC)
    run_agent_until(cfg, lambda: Run.objects.count() == 2, timeout=300)
    run_before, run_after = (Run.objects.get(commit=sha) for sha in (shas[0], shas[-1]))
    summary = alert_between(run_before, run_after)

    # What the alerts_filed receiver does: the machine ran this repository's jobs, so it starts by itself.
    bisection = runner.auto_start(summary)
    assert bisection is not None and bisection.started_by is None
    # Halfway, the agent stops (its claimed job goes back to the queue) and the worker is killed
    # (SIGKILL, mid-task perhaps); a new agent and a new worker carry the bisection on.
    run_agent_until(cfg, lambda: bisection.runs.filter(status="done").count() >= 4, timeout=300)
    if workers is not None:
        workers.kill(workers.procs[0])
        workers.start()
    run_agent_until(cfg, lambda: not Bisection.objects.filter(pk=bisection.pk, status__in=ACTIVE).exists(),
                    timeout=600)

    bisection.refresh_from_db()
    assert bisection.status == FOUND, bisection.message
    assert [c["sha"] for c in bisection.culprits] == [shas[SLOW_AT]]
    assert len(bisection.commits) == COMMITS
    done = steps(bisection)
    assert len(done) <= math.ceil(math.log2(COMMITS)) + 2, [(s.index, s.verdict) for s in done]
    # Its runs stay out of the series: the fleet's two runs are all it has.
    assert list(Run.objects.in_series().values_list("commit", flat=True).order_by("id")) == [shas[0], shas[-1]]

    page = requests.get(f"{live_server.url}/alerts/{summary.pk}/", timeout=30)
    assert page.status_code == 200
    assert shas[SLOW_AT][:12] in page.text and SLOW_SUBJECT in page.text
    api = requests.get(f"{live_server.url}/api/v1/bisections/{bisection.pk}/", timeout=30).json()
    assert api["status"] == FOUND and api["culprits"][0]["subject"] == SLOW_SUBJECT
    if os.environ.get("ROOFWATCH_DOC_IMAGES") == "1":
        save_doc_image(f"{live_server.url}/alerts/{summary.pk}/")


def save_doc_image(url: str) -> None:
    """The README's picture of the alert page's Bisection section, from this real bisection."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(url, wait_until="networkidle")
        page.locator("#bisection").screenshot(path=str(DOC_IMAGE))
        browser.close()
