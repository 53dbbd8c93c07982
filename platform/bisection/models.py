"""Bisections: the search from an alert summary's commit range to the
commit that caused it (bisection.runner drives one; bisection.search decides).

A bisection measures one series (the summary's worst regression: machine,
benchmark, layer) at commits of the range, through fleet jobs: first a
"commits" job whose agent lists the range, then "bisect" jobs, one benchmark
run each. Every run it asked for is a BisectRun, so the page can show each
step: commit, runs, verdict.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from fleet.models import Machine
from regressions.models import Alert, AlertSummary
from results.models import Benchmark

LISTING, RUNNING = "listing", "running"  # active: waiting for the commit list; measuring
FOUND, NOT_REPRODUCED, NO_CULPRIT, FAILED, CANCELLED = "found", "not_reproduced", "no_culprit", "failed", "cancelled"
ACTIVE = (LISTING, RUNNING)
STATUSES = (LISTING, RUNNING, FOUND, NOT_REPRODUCED, NO_CULPRIT, FAILED, CANCELLED)
RUN_PENDING, RUN_DONE, RUN_FAILED = "pending", "done", "failed"


class Bisection(models.Model):
    summary = models.ForeignKey(AlertSummary, on_delete=models.CASCADE, related_name="bisections")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="+")  # whose series is bisected
    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="+")
    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="+")
    layer = models.CharField(max_length=200)
    repository = models.CharField(max_length=500)
    last_good = models.CharField(max_length=64)
    first_bad = models.CharField(max_length=64)
    # The benchmark jobs' spec (fleet.models.BenchmarkSpecFields.spec()): that of the first bad run.
    spec = models.JSONField(default=dict)
    min_rel_change = models.FloatField()  # the series' detection policy's smallest change (regressions.policy)
    run_sigma = models.FloatField(default=0.0)  # the series' run-to-run noise, seconds (bisection.search)
    status = models.CharField(max_length=16, choices=[(s, s) for s in STATUSES], default=LISTING)
    list_job_id = models.BigIntegerField(null=True, blank=True)  # the fleet "commits" job; a plain id
    # The range as the agent listed it, oldest first: index 0 is last_good, the last first_bad.
    # Each {"sha", "subject", "author", "time"}.
    commits = models.JSONField(default=list, blank=True)
    # Each {"index", "sha", "skipped": [indices of untestable commits just before it]}.
    culprits = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True, default="")  # how it ended, in words
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")  # null: started by itself
    cancelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # The same summary never gets two bisections running at once.
            models.UniqueConstraint(fields=["summary"], condition=models.Q(status__in=ACTIVE),
                                    name="one_active_bisection_per_summary"),
        ]
        indexes = [models.Index(fields=["status"], condition=models.Q(status__in=ACTIVE),
                                name="bisection_active")]

    def __str__(self) -> str:
        return f"bisection {self.pk} of summary {self.summary_id} ({self.status})"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class BisectRun(models.Model):
    """One benchmark run a bisection asked for at one commit of its range."""

    bisection = models.ForeignKey(Bisection, on_delete=models.CASCADE, related_name="runs")
    index = models.PositiveIntegerField()  # into Bisection.commits
    commit = models.CharField(max_length=64)
    job_id = models.BigIntegerField(unique=True)  # the fleet job; a plain id, as fleet's jobs keep run ids
    run_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, default=RUN_PENDING,
                              choices=[(s, s) for s in (RUN_PENDING, RUN_DONE, RUN_FAILED)])
    value = models.FloatField(null=True, blank=True)  # the series' median in that run, seconds
    spread = models.FloatField(null=True, blank=True)  # regressions.window.within_run_spread
    n = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["bisection", "index", "id"]

    def __str__(self) -> str:
        return f"bisect run {self.pk} at {self.commit[:12]} ({self.status})"
