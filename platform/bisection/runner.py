"""Driving a bisection: start it, advance it as its jobs finish, cancel it.

The commits between the two SHAs come from an agent, in a fleet "commits"
job on the alert's machine: that machine's agent has the clone its commit
jobs run from, so it can list any range (`git rev-list --first-parent`).
The push hooks the platform stores name only each push's head, not every
commit in between, so they cannot list a range.

`advance` is the one step function: it reads the finished jobs, asks
bisection.search what next, queues the runs it wants, and records the end.
It runs under a row lock and only acts on what the database holds, so it is
safe to call any number of times, from a job_finished receiver, the beat
sweep (a worker or agent restart loses nothing), or a test.
"""
from __future__ import annotations

import logging
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from bisection.models import (
    ACTIVE,
    CANCELLED,
    FAILED,
    FOUND,
    LISTING,
    RUN_DONE,
    RUN_FAILED,
    RUN_PENDING,
    RUNNING,
    Bisection,
    BisectRun,
)
from bisection.search import CommitState, Point, next_step
from bisection.signals import culprit_found
from engine.report import END_TO_END
from fleet import jobs as fleet_jobs
from fleet.models import CANCELLED as JOB_CANCELLED
from fleet.models import DONE, FAILED as JOB_FAILED, Job
from regressions.policy import effective
from regressions.models import REGRESSION, STEP, AlertSummary, TriageEvent
from regressions.changepoints import noise_scale
from regressions.window import load_window, within_run_spread
from results.models import LayerMeasurement, Run

log = logging.getLogger(__name__)
MAX_COMMITS = 5000  # the most a range may hold (fleet.jobs.MAX_COMMIT_LIST)
MAX_JOBS = 150  # benchmark runs one bisection may ask for in all


class BisectRefused(Exception):
    status_code = 400


class BisectConflict(BisectRefused):
    status_code = 409


def bisectable_alert(summary: AlertSummary):
    """The alert whose series a bisection of `summary` measures: its largest
    step regression still standing; None when the summary has no commit range
    or no such alert (a creeping drift has no one culprit to find)."""
    if not summary.attribution.get("commits"):
        return None
    alerts = summary.alerts.filter(direction=REGRESSION, vanished_at=None, kind=STEP).select_related("run_after")
    return alerts.order_by("-rel_change", "id").first()


def is_sweep_series(run: Run) -> bool:
    """Whether `run` is a sweep's best under an SLO (results.sweep_ingest), not a measured run."""
    return "sweep" in run.config


def start(summary: AlertSummary, user=None) -> Bisection:
    """Start bisecting `summary`'s commit range (user None: started by itself)."""
    alert = bisectable_alert(summary)
    if alert is None:
        raise BisectRefused(f"Alert summary {summary.pk} has no commit range with a step regression to bisect (a creeping drift has no one culprit).")
    if is_sweep_series(alert.run_after):
        raise BisectRefused(f"Alert summary {summary.pk} is of a sweep's best throughput under a p99 SLO: a "
                            "bisection measures one run per commit, and a sweep job completes with a sweep, not a "
                            "run; sweeps are not bisected (sweep the range's commits with commit jobs instead).")
    commits = summary.attribution["commits"]
    spec = _spec_of(alert.run_after)
    try:
        with transaction.atomic():
            bisection = Bisection.objects.create(
                summary=summary, alert=alert, machine_id=alert.machine_id, benchmark_id=alert.benchmark_id,
                layer=alert.layer, repository=commits["repository"], last_good=commits["last_good"],
                first_bad=commits["first_bad"], spec=spec, started_by=user, run_sigma=_run_sigma(alert),
                min_rel_change=effective(alert.machine_id, alert.benchmark_id, alert.layer).min_rel_change)
            job = fleet_jobs.enqueue_commit_list(alert.machine, bisection.repository, bisection.last_good,
                                                 bisection.first_bad)
            bisection.list_job_id = job.pk
            bisection.save(update_fields=["list_job_id"])
            TriageEvent.objects.create(summary=summary, user=user, action="bisect", new="started",
                                       note=f"bisection {bisection.pk}" + ("" if user else ", started by itself"))
    except IntegrityError:
        raise BisectConflict(f"Alert summary {summary.pk} already has a bisection running.") from None
    except ValidationError as error:  # the range's commits are not ids an agent can fetch
        raise BisectRefused(f"Alert summary {summary.pk}'s commit range cannot be bisected: "
                            + "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())) from None
    return bisection


def auto_start(summary: AlertSummary) -> Bisection | None:
    """Start a bisection by itself when ROOFWATCH_AUTO_BISECT is on, the summary
    has a commit range with a regression and never had a bisection (one a person
    cancelled stays cancelled), and the alert's machine can fetch the
    repository (its agent has finished a job of that repository before)."""
    alert = bisectable_alert(summary)
    if not settings.ROOFWATCH_AUTO_BISECT or alert is None or summary.bisections.exists():
        return None
    if is_sweep_series(alert.run_after):  # start would refuse it (and says why to a person who asks)
        return None
    repository = summary.attribution["commits"]["repository"]
    if not Job.objects.filter(machine_id=alert.machine_id, repository=repository, status=DONE).exists():
        log.info("no bisection of summary %s: machine %s never ran a job of %s", summary.pk, alert.machine_id,
                 repository)
        return None
    try:
        return start(summary)
    except BisectConflict:
        return None  # started meanwhile by a person or another worker


def _run_sigma(alert) -> float:
    """The series' run-to-run noise (seconds) over detection's window, as detection measures it."""
    window = load_window(alert.machine_id, alert.benchmark_id, settings.ROOFWATCH_DETECTION_WINDOW)
    series = window.series.get(alert.layer)
    return noise_scale(series.values) if series is not None and len(series.values) >= 3 else 0.0


def _spec_of(run: Run) -> dict:
    """The spec of the job that made `run`, else one rebuilt from the run itself."""
    job = Job.objects.filter(run_id=run.pk).first()
    if job is not None:
        return job.spec()
    config = {key: run.config[key] for key in ("passes", "quant", "flags", "target_ci", "budget_s")
              if run.config.get(key) is not None}
    return {"model": run.benchmark.model, "params": run.benchmark.params, "config": config, "warmup": run.warmup,
            "repeats": run.repeats, "threads": run.config.get("threads"), "timeout_seconds": 600}


def cancel(bisection: Bisection, user) -> Bisection:
    with transaction.atomic():
        bisection = Bisection.objects.select_for_update().get(pk=bisection.pk)
        if not bisection.active:
            raise BisectConflict(f"Bisection {bisection.pk} is {bisection.status}; only a running one can be cancelled.")
        job_ids = [*bisection.runs.filter(status=RUN_PENDING).values_list("job_id", flat=True), bisection.list_job_id]
        fleet_jobs.cancel(Job.objects.filter(pk__in=[j for j in job_ids if j]))
        bisection.runs.filter(status=RUN_PENDING).update(status=RUN_FAILED, error="cancelled")
        _finish(bisection, CANCELLED, f"Cancelled by {user}.", cancelled_by=user)
        TriageEvent.objects.create(summary=bisection.summary, user=user, action="bisect", old="running",
                                   new="cancelled", note=f"bisection {bisection.pk}")
    return bisection


def advance(bisection_id: int) -> Bisection | None:
    """One step of the bisection (see the module doc); None if it is gone."""
    with transaction.atomic():
        bisection = Bisection.objects.select_for_update().filter(pk=bisection_id).first()
        if bisection is None or not bisection.active:
            return bisection
        if bisection.status == LISTING:
            _read_commit_list(bisection)
        if bisection.status == RUNNING:
            _collect_runs(bisection)
            _search_step(bisection)
        found = bisection.status == FOUND
    if found:
        transaction.on_commit(lambda: culprit_found.send_robust(sender=Bisection, bisection_id=bisection_id))
    return bisection


def _read_commit_list(bisection: Bisection) -> None:
    job = Job.objects.filter(pk=bisection.list_job_id).first()
    if job is None or job.status == JOB_CANCELLED:
        return _finish(bisection, FAILED, "The job listing the range's commits is gone or was cancelled.")
    if job.status == JOB_FAILED:
        return _finish(bisection, FAILED, f"The agent could not list the commits: {job.error}")
    if job.status != DONE:
        return None
    listed = (job.result or {}).get("commits") or []
    if not listed or not listed[-1]["sha"].startswith(bisection.first_bad) or len(listed) > MAX_COMMITS:
        return _finish(bisection, FAILED, f"The agent's list of {len(listed)} commits does not end at "
                                          f"{bisection.first_bad} (or holds more than {MAX_COMMITS}).")
    bisection.commits = [{"sha": bisection.last_good, "subject": "", "author": "", "time": ""}, *listed]
    bisection.status = RUNNING
    bisection.save(update_fields=["commits", "status", "updated"])
    if len(listed) == 1:
        bisection.culprits = [{"index": 1, "sha": bisection.first_bad, "skipped": []}]
        return _finish(bisection, FOUND, "The range holds one commit: it is the culprit, with nothing to search.")
    return None


def _collect_runs(bisection: Bisection) -> None:
    """Fill in the pending runs whose jobs finished."""
    pending = {r.job_id: r for r in bisection.runs.filter(status=RUN_PENDING)}
    for job in Job.objects.filter(pk__in=pending, status__in=(DONE, JOB_FAILED, JOB_CANCELLED)):
        run = pending[job.pk]
        point = _point(job.run_id, bisection.layer) if job.status == DONE else None
        if point is None:
            run.status, run.error = RUN_FAILED, job.error or f"job {job.status} without the layer {bisection.layer}"
        else:
            run.status, run.run_id = RUN_DONE, job.run_id
            run.value, run.spread, run.n = point
        run.save(update_fields=["status", "error", "run_id", "value", "spread", "n"])


def _point(run_id: int | None, layer: str) -> tuple[float, float, int] | None:
    fields = ("median", "p25", "p75", "ci_low", "ci_high", "n")
    row = Run.objects.filter(pk=run_id).values("id", "started_at", *fields).first()
    if row is not None and layer != END_TO_END:  # bounded by the run's time: one monthly partition is read
        row = LayerMeasurement.objects.of_runs([row]).filter(name=layer).values(*fields).first()
    if row is None:
        return None
    return row["median"], within_run_spread(row["p25"], row["p75"], row["ci_low"], row["ci_high"], row["n"]), row["n"]


def states(bisection: Bisection) -> list[CommitState]:
    """The search's view of the range: each commit's points, pending runs and failures."""
    commits = [CommitState() for _ in bisection.commits]
    failures = defaultdict(int)
    for run in bisection.runs.all():
        state = commits[run.index]
        if run.status == RUN_PENDING:
            state.pending += 1
        elif run.status == RUN_DONE:
            state.points.append(Point(run.value, run.spread, run.n))
        else:
            failures[run.index] += 1
    for index, count in failures.items():
        # A commit that failed and never ran is skipped; one that also ran keeps its points.
        commits[index].failed = not commits[index].points and not commits[index].pending
    return commits


def _search_step(bisection: Bisection) -> None:
    step = next_step(states(bisection), bisection.min_rel_change, bisection.run_sigma)
    if step.outcome:
        bisection.culprits = [{"index": c.index, "sha": bisection.commits[c.index]["sha"], "skipped": list(c.skipped)}
                              for c in step.culprits]
        return _finish(bisection, step.outcome, step.message)
    asked = bisection.runs.count()
    if asked + len(step.measure) > MAX_JOBS:
        return _finish(bisection, FAILED, f"Out of budget: {asked} runs asked for, at most {MAX_JOBS}.")
    for index in step.measure:
        sha = bisection.commits[index]["sha"]
        job = fleet_jobs.enqueue_bisect(bisection.machine, bisection.repository, sha,
                                        under_test=bisection.summary.project.under_test, **bisection.spec)
        BisectRun.objects.create(bisection=bisection, index=index, commit=sha, job_id=job.pk)
    return None


def _finish(bisection: Bisection, status: str, message: str, cancelled_by=None) -> None:
    bisection.status, bisection.message, bisection.finished_at = status, message, timezone.now()
    bisection.cancelled_by = cancelled_by
    bisection.save(update_fields=["status", "message", "finished_at", "cancelled_by", "culprits", "updated"])


def bisection_of_job(job_id: int) -> int | None:
    """The active bisection a fleet job belongs to, if any."""
    run = BisectRun.objects.filter(job_id=job_id).values_list("bisection_id", flat=True).first()
    if run is not None:
        return run
    return Bisection.objects.filter(list_job_id=job_id, status__in=ACTIVE).values_list("pk", flat=True).first()


def active_ids() -> list[int]:
    return list(Bisection.objects.filter(status__in=ACTIVE).values_list("pk", flat=True))
