"""Alerts: a change found in one series, grouped into summaries (one cause, one
summary) that people triage.

Alert -> AlertSummary follows treeherder's perf alert chain: detection writes
alerts idempotently (one per series and change point), groups them by what
changed between the runs on either side of the change (the attribution), and
never deletes one when later data makes its change vanish: it sets
`vanished_at` instead, so history stays.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from fleet.models import Machine
from results.models import Benchmark, Project, Run

# Triage states of a summary (what people decided about the cause) and of an
# alert (whether it belongs to its summary). Module constants, as in healthchecks.
UNTRIAGED = "untriaged"
ACKNOWLEDGED = "acknowledged"
INVALID = "invalid"
FIXED = "fixed"
IMPROVEMENT = "improvement"
REASSIGNED = "reassigned"
SUMMARY_STATUSES = (UNTRIAGED, ACKNOWLEDGED, INVALID, FIXED, IMPROVEMENT)
ALERT_STATUSES = (UNTRIAGED, ACKNOWLEDGED, INVALID, REASSIGNED)

REGRESSION = "regression"
IMPROVED = "improvement"
DIRECTIONS = (REGRESSION, IMPROVED)


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


class AlertSummary(models.Model):
    """The alerts one cause produced: the same commit range, model-version or
    config change, across layers, benchmarks and machines."""

    # sha256 of the grouping key (regressions.attribution.summary_key): detection
    # finds the summary of a new alert by it, so re-running never duplicates one.
    key = models.CharField(max_length=64, unique=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_summaries")
    # What differs between the runs before and after the change (commit range,
    # model_version, config diff), as regressions.attribution.attribute builds it.
    attribution = models.JSONField(default=dict)
    classification = models.CharField(max_length=16, blank=True, default="")
    status = models.CharField(max_length=16, choices=_choices(SUMMARY_STATUSES), default=UNTRIAGED)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    triaged_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "alert summaries"
        indexes = [
            # The triage queue: untriaged summaries, newest first.
            models.Index(fields=["status", "-created"], name="summary_queue"),
        ]

    def __str__(self) -> str:
        return f"alert summary {self.pk} ({self.status})"


class Alert(models.Model):
    """A change in one series: one layer (or end_to_end) of one benchmark on one
    machine, metric `median` time, at the run that opened the new regime."""

    summary = models.ForeignKey(AlertSummary, on_delete=models.CASCADE, related_name="alerts")
    # Where the alert was first filed, kept when a person reassigns it.
    original_summary = models.ForeignKey(AlertSummary, on_delete=models.CASCADE, related_name="+")
    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="+")
    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="+")
    layer = models.CharField(max_length=200)  # engine.report.END_TO_END for the whole model
    metric = models.CharField(max_length=16, default="median")
    # Last run of the old regime (last good) and first run of the new one (first bad).
    run_before = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    run_after = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    before = models.FloatField()
    after = models.FloatField()
    rel_change = models.FloatField()  # after / before - 1
    confidence = models.FloatField()
    direction = models.CharField(max_length=16, choices=_choices(DIRECTIONS))
    classification = models.CharField(max_length=16, blank=True, default="")
    evidence = models.JSONField(default=dict)  # roofline evidence of the classification
    status = models.CharField(max_length=16, choices=_choices(ALERT_STATUSES), default=UNTRIAGED)
    # Set when re-detection over later data no longer finds this change; cleared if it returns.
    vanished_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["summary", "-rel_change"]
        constraints = [
            # Idempotent detection: one alert per series and change point.
            models.UniqueConstraint(
                fields=["machine", "benchmark", "layer", "metric", "run_after"], name="unique_alert_per_change"
            ),
        ]
        indexes = [
            # The alerts of one series (detection matches new changes against them; the series page).
            models.Index(fields=["machine", "benchmark", "layer", "metric"], name="alert_series"),
        ]

    def __str__(self) -> str:
        return f"{self.layer} of {self.benchmark} on {self.machine}: {self.rel_change:+.1%}"

    @property
    def is_regression(self) -> bool:
        return self.direction == REGRESSION


class TriageEvent(models.Model):
    """Who changed what on a summary or alert, and when: the triage history."""

    summary = models.ForeignKey(AlertSummary, on_delete=models.CASCADE, related_name="events")
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=32)  # "status", "notes" or "reassign"
    old = models.CharField(max_length=200, blank=True, default="")
    new = models.CharField(max_length=200, blank=True, default="")
    note = models.TextField(blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.old!r} -> {self.new!r} by {self.user}"
