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
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

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

# What an alert found: a step (one change point) or a drift (a ramp, or small
# steps adding up, regressions.drift).
STEP = "step"
DRIFT = "drift"
ALERT_KINDS = (STEP, DRIFT)


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
    kind = models.CharField(max_length=8, choices=_choices(ALERT_KINDS), default=STEP)
    # Last run of the old regime (last good) and first run of the new one (first bad);
    # of a drift: the last run before the ramp and the run where it reached the threshold.
    run_before = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    run_after = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    # A drift's ramp: its first and last run (null for a step).
    ramp_start = models.ForeignKey(Run, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    ramp_end = models.ForeignKey(Run, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    before = models.FloatField()
    after = models.FloatField()
    rel_change = models.FloatField()  # after / before - 1
    confidence = models.FloatField()
    direction = models.CharField(max_length=16, choices=_choices(DIRECTIONS))
    classification = models.CharField(max_length=16, blank=True, default="")
    evidence = models.JSONField(default=dict)  # roofline evidence of the classification
    # The detection policy that applied (regressions.policy.EffectivePolicy.as_json): each
    # value and where it came from ("series", "benchmark", "project" or "default").
    policy = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=_choices(ALERT_STATUSES), default=UNTRIAGED)
    # Set when re-detection over later data no longer finds this change; cleared if it returns.
    vanished_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["summary", "-rel_change"]
        constraints = [
            # Idempotent detection: one alert per series, kind and change point (a drift's: where
            # it reached the threshold).
            models.UniqueConstraint(
                fields=["machine", "benchmark", "layer", "metric", "kind", "run_after"],
                name="unique_alert_per_change",
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


# Which way a metric's change is bad (DetectionPolicy.bad_direction): "up" (a higher time is
# bad: the default for times), "down", or "both" (every change is a regression).
UP, DOWN, BOTH = "up", "down", "both"
BAD_DIRECTIONS = (UP, DOWN, BOTH)
METRICS = ("median",)  # the metrics detection watches (Alert.metric)
POLICY_SCOPES = ("project", "benchmark", "series")
MIN_POLICY_WINDOW = 10  # runs: fewer is too few for detection to judge a change
MAX_POLICY_REL_CHANGE = 10.0  # +1000%: a larger floor would silence the series; mute it instead


class DetectionPolicy(models.Model):
    """A person's detection settings for a project, a benchmark, or series of one
    benchmark (a machine and/or a layer; either left empty means all). Every
    value may be left empty: it is then inherited, series -> benchmark ->
    project -> the built-in defaults (regressions.policy.effective)."""

    # Always set: a benchmark's policy carries the benchmark's project.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="detection_policies", blank=True)
    benchmark = models.ForeignKey(Benchmark, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    machine = models.ForeignKey(Machine, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    layer = models.CharField(max_length=200, blank=True, default="", help_text="empty: every layer")
    min_rel_change = models.FloatField(null=True, blank=True, help_text="smallest |relative change| alerted")
    bad_direction = models.JSONField(default=dict, blank=True,
                                     help_text='per metric, e.g. {"median": "down"}: "up", "down" or "both"')
    window = models.PositiveIntegerField(null=True, blank=True, help_text="runs detection reads")
    muted = models.BooleanField(null=True, blank=True, help_text="detect, but file no alert and send nothing")
    alert_improvements = models.BooleanField(
        null=True, blank=True, help_text="improvements wait for triage like regressions (never sent)")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "benchmark", "machine", "layer", "id"]
        verbose_name_plural = "detection policies"
        constraints = [
            models.CheckConstraint(condition=Q(benchmark__isnull=False) | Q(machine__isnull=True, layer=""),
                                   name="policy_series_needs_benchmark"),
            models.CheckConstraint(condition=Q(min_rel_change__isnull=True) | Q(min_rel_change__gt=0),
                                   name="policy_min_rel_change_positive"),
            models.CheckConstraint(condition=Q(window__isnull=True) | Q(window__gte=MIN_POLICY_WINDOW),
                                   name="policy_window_min"),
            # At most one policy per scope (NULLs are distinct in a unique index, hence three).
            models.UniqueConstraint(fields=["project"], condition=Q(benchmark__isnull=True),
                                    name="one_policy_per_project"),
            models.UniqueConstraint(fields=["benchmark", "layer"],
                                    condition=Q(benchmark__isnull=False, machine__isnull=True),
                                    name="one_policy_per_benchmark_layer"),
            models.UniqueConstraint(fields=["benchmark", "machine", "layer"], condition=Q(machine__isnull=False),
                                    name="one_policy_per_series"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} policy {self.pk} of {self.benchmark or self.project}"

    @property
    def scope(self) -> str:
        """"project", "benchmark" or "series" (a machine and/or a layer of a benchmark)."""
        if self.benchmark_id is None:
            return "project"
        return "series" if self.machine_id is not None or self.layer else "benchmark"

    def clean(self) -> None:
        """The rules the database cannot check alone, each error naming its field;
        fills `project` from the benchmark."""
        errors: dict[str, str] = {}
        if self.benchmark_id is not None:
            if self.project_id is None:
                self.project_id = self.benchmark.project_id
            elif self.project_id != self.benchmark.project_id:
                errors["project"] = f"Benchmark {self.benchmark_id} is of another project; leave project empty."
        elif self.machine_id is not None or self.layer:
            errors["benchmark"] = "A series policy (a machine or a layer) needs its benchmark."
        elif self.project_id is None:
            errors["project"] = "Give a project or a benchmark."
        if self.min_rel_change is not None and not 0 < self.min_rel_change <= MAX_POLICY_REL_CHANGE:
            errors["min_rel_change"] = f"Must be above 0 and at most {MAX_POLICY_REL_CHANGE:g}."
        most = settings.ROOFWATCH_DETECTION_WINDOW
        if self.window is not None and not MIN_POLICY_WINDOW <= self.window <= most:
            errors["window"] = f"Must be {MIN_POLICY_WINDOW} to {most} runs (ROOFWATCH_DETECTION_WINDOW)."
        if self.bad_direction is None:  # the admin's emptied field: inherit every metric
            self.bad_direction = {}
        if not isinstance(self.bad_direction, dict):
            errors["bad_direction"] = 'Must be an object of metric to direction, e.g. {"median": "down"}.'
        else:
            for metric, direction in self.bad_direction.items():
                if metric not in METRICS:
                    errors["bad_direction"] = f"Unknown metric {metric!r}; expected one of {', '.join(METRICS)}."
                elif direction not in BAD_DIRECTIONS:
                    errors["bad_direction"] = (f"{metric}: {direction!r} is not one of "
                                               f"{', '.join(BAD_DIRECTIONS)}.")
        if not errors and (twin := self.same_scope().first()) is not None:
            field = "project" if self.benchmark_id is None else "layer" if self.layer else \
                "machine" if self.machine_id else "benchmark"
            errors[field] = f"This scope already has policy {twin.pk}; change that one."
        if errors:
            raise ValidationError(errors)

    def same_scope(self) -> models.QuerySet[DetectionPolicy]:
        """Other policies of this one's scope (at most one may exist)."""
        if self.benchmark_id is None:
            twins = DetectionPolicy.objects.filter(project_id=self.project_id, benchmark=None)
        else:
            twins = DetectionPolicy.objects.filter(benchmark_id=self.benchmark_id, machine_id=self.machine_id,
                                                   layer=self.layer)
        return twins.exclude(pk=self.pk) if self.pk else twins
