"""A bisection driven through the real fleet jobs and ingest, with the agent's
part played in the test: the commits job answered with a list, each bisect
job answered with an ingested run of that commit (slower from the culprit on)."""
import hashlib

import pytest
from django.contrib.auth import get_user_model

from bisection import runner
from bisection.models import ACTIVE, CANCELLED, FOUND, LISTING, RUNNING, Bisection
from bisection.signals import culprit_found
from bisection.steps import steps
from fleet import jobs as fleet_jobs
from fleet.models import KIND_BISECT, KIND_COMMITS, Job, Machine
from regressions.detection import detect_benchmark
from regressions.models import AlertSummary, TriageEvent
from regressions.window import load_window
from results.ingest import ingest_report
from tests.regressions.history import history, ingest_all, scale_layer

pytestmark = pytest.mark.django_db
RANGE = 16  # commits after the last good one


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


@pytest.fixture
def machine() -> Machine:
    return Machine.objects.create(name="m1")


@pytest.fixture
def summary(machine) -> AlertSummary:
    """An fc1 regression between fleet runs at r11 (last good) and r12 (first bad)."""
    reports = history(18, slow_from=12, slow={"fc1": 3.0}, layers=6)
    for i, report in enumerate(reports):
        report["source"]["commit"] = sha(f"r{i}")
    runs = ingest_all(reports, machine)
    detect_benchmark(runs[0].machine_id, runs[0].benchmark_id)
    return AlertSummary.objects.get()


def range_commits(culprit: int) -> list[dict]:
    """The agent's list: 16 commits after r11, the last being r12; index `culprit` made fc1 slower."""
    shas = [sha(f"mid{i}") for i in range(1, RANGE)] + [sha("r12")]
    return [{"sha": s, "subject": "make fc1 slower" if i + 1 == culprit else f"commit {i + 1}",
             "author": "dev", "time": "2026-01-01T00:00:00+00:00"} for i, s in enumerate(shas)]


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run on_commit callbacks (job_finished, culprit_found) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def play_agent(machine, culprit: int, on_commit, *, broken=(), limit=60) -> int:
    """Answer every job the machine gets until none is left; returns how many bisect jobs ran."""
    listed = range_commits(culprit)
    index = {entry["sha"]: i + 1 for i, entry in enumerate(listed)}
    ran = 0
    for n in range(limit):
        claim = fleet_jobs.claim(machine)
        if claim is None:
            return ran
        job = claim.job
        if job.kind == KIND_COMMITS:
            with on_commit():
                fleet_jobs.complete(job.pk, machine, claim.lease, result={"commits": listed})
            continue
        assert job.kind == KIND_BISECT
        ran += 1
        i = index.get(job.commit, 0)
        if i in broken:
            with on_commit():
                fleet_jobs.complete(job.pk, machine, claim.lease, error="build failed")
            continue
        report = history(1, seed=100 + n, layers=6)[0]
        report["source"]["commit"], report["purpose"] = job.commit, "bisect"
        if i >= culprit:
            scale_layer(report, "fc1", 3.0)
        run = ingest_report(report, machine)[0]
        with on_commit():
            fleet_jobs.complete(job.pk, machine, claim.lease, run_id=run.pk)
    raise AssertionError("the bisection never stopped asking")


@pytest.mark.parametrize("culprit", [1, 7, 16])
def test_it_names_the_culprit_within_log2_plus_two_steps(machine, summary, culprit, on_commit):
    user = get_user_model().objects.create_user("ann")
    window_before = load_window(machine.pk, summary.alerts.first().benchmark_id, 200).run_ids
    found = []
    culprit_found.connect(lambda sender, bisection_id, **kw: found.append(bisection_id), weak=False,
                          dispatch_uid="test-culprit")
    try:
        bisection = runner.start(summary, user)
        assert bisection.status == LISTING and bisection.layer == "fc1"
        play_agent(machine, culprit, on_commit)
    finally:
        culprit_found.disconnect(dispatch_uid="test-culprit")
    bisection.refresh_from_db()
    assert bisection.status == FOUND, bisection.message
    assert [c["sha"] for c in bisection.culprits] == [bisection.commits[culprit]["sha"]]
    assert len(steps(bisection)) <= 4 + 2  # ceil(log2 16) + 2
    assert found == [bisection.pk]
    # The bisect runs stay out of the series: detection's window is what it was.
    assert load_window(machine.pk, summary.alerts.first().benchmark_id, 200).run_ids == window_before
    assert TriageEvent.objects.filter(summary=summary, action="bisect", new="started", user=user).exists()


def test_a_commit_that_fails_to_build_is_skipped(machine, summary, on_commit):
    bisection = runner.start(summary)
    play_agent(machine, 9, on_commit, broken={8})
    bisection.refresh_from_db()
    assert bisection.status == FOUND, bisection.message
    assert [c["index"] for c in bisection.culprits] == [9]
    assert any(step.verdict == "skipped" for step in steps(bisection))


def test_one_active_bisection_per_summary_and_cancel_records_who(machine, summary):
    user = get_user_model().objects.create_user("bob")
    bisection = runner.start(summary, user)
    with pytest.raises(runner.BisectConflict):
        runner.start(summary, user)
    runner.cancel(bisection, user)
    bisection.refresh_from_db()
    assert bisection.status == CANCELLED and bisection.cancelled_by == user
    assert Job.objects.get(pk=bisection.list_job_id).status == "cancelled"
    assert TriageEvent.objects.filter(summary=summary, action="bisect", new="cancelled", user=user).exists()
    again = runner.start(summary, user)  # a cancelled one does not block a new one
    assert again.status in ACTIVE


def test_advance_is_idempotent_and_the_sweep_resumes_a_lost_step(machine, summary):
    bisection = runner.start(summary)
    claim = fleet_jobs.claim(machine)
    # The agent's completion went in, but the advance task it queued was lost (a worker restart):
    Job.objects.filter(pk=claim.job.pk).update(status="done", result={"commits": range_commits(5)})
    from bisection.tasks import sweep_bisections
    assert sweep_bisections() == 1
    bisection.refresh_from_db()
    assert bisection.status == RUNNING
    asked = bisection.runs.count()
    runner.advance(bisection.pk)
    assert bisection.runs.count() == asked == 4  # the two ends, two runs each (MIN_RUNS_PER_COMMIT), asked once


def test_auto_start_needs_a_machine_that_fetched_the_repository(machine, summary):
    assert runner.auto_start(summary) is None
    Job.objects.create(machine=machine, kind="commit", repository=summary.attribution["commits"]["repository"],
                       commit=sha("x"), model="mlp", status="done")
    started = runner.auto_start(summary)
    assert started is not None and started.started_by is None
    assert runner.auto_start(summary) is None  # never twice


def test_a_summary_without_a_commit_range_is_refused(machine, summary):
    summary.attribution = {"run_before": 1, "run_after": 2}
    summary.save()
    with pytest.raises(runner.BisectRefused, match="no commit range"):
        runner.start(summary)
    assert not Bisection.objects.exists()


def test_a_range_of_ids_no_agent_can_fetch_is_refused_naming_them(machine, summary):
    summary.attribution = {**summary.attribution, "commits": {**summary.attribution["commits"], "last_good": "c11"}}
    summary.save()
    with pytest.raises(runner.BisectRefused, match="base_commit"):
        runner.start(summary)
    assert not Bisection.objects.exists()


def test_a_drift_is_not_bisected(machine, summary):
    summary.alerts.update(kind="drift")
    with pytest.raises(runner.BisectRefused, match="no commit range"):
        runner.start(summary)
