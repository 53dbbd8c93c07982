"""Webhooks: the secrets CI signs inbound hooks with, the inbound deliveries
seen (each delivery id once), the outbound endpoints of a project and the log
of what was sent to them (one delivery per alert summary, endpoint and event)."""
from __future__ import annotations

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from notify.destinations import UnsafeDestination, check_url
from results.models import Project

SECRET_PREFIX = "rwh_"

SOURCE_GITHUB, SOURCE_CI = "github", "ci"
SOURCES = [(SOURCE_GITHUB, SOURCE_GITHUB), (SOURCE_CI, SOURCE_CI)]

KIND_GENERIC, KIND_SLACK, KIND_GITHUB_STATUS = "generic", "slack", "github_status"
ENDPOINT_KINDS = [(KIND_GENERIC, "generic JSON"), (KIND_SLACK, "Slack incoming webhook"),
                  (KIND_GITHUB_STATUS, "GitHub commit status")]
GITHUB_API_URL = "https://api.github.com"

# What a delivery tells: an alert summary was filed, or its bisection found the culprit.
EVENT_ALERT_SUMMARY, EVENT_CULPRIT_FOUND = "alert_summary", "culprit_found"
EVENTS = [(EVENT_ALERT_SUMMARY, "alert summary"), (EVENT_CULPRIT_FOUND, "culprit found")]


class WebhookSecret(models.Model):
    """The secret a project's CI signs inbound hooks with (HMAC-SHA256).

    Stored in plain text because verifying an HMAC needs the secret itself (a
    hash would not do); it is shown once, by `manage.py webhook_secret`, and
    never again: admin and API do not display it. Encrypting it with a key
    from the same environment as the database password would only help against
    a leaked database backup; treat backups as secret instead (docs/deploy.md)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="webhook_secret")
    secret = models.CharField(max_length=128, editable=False)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"webhook secret of {self.project}"

    @classmethod
    def rotate(cls, project: Project) -> str:
        """Give `project` a new secret (the old one stops working); returns it, to show once."""
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        cls.objects.update_or_create(project=project, defaults={"secret": secret, "created": timezone.now()})
        return secret


class InboundDelivery(models.Model):
    """An inbound hook that verified, kept so a replayed delivery makes no jobs twice."""

    source = models.CharField(max_length=16, choices=SOURCES)
    # X-GitHub-Delivery, X-Roofwatch-Delivery, or the sha256 of the signature when a CI sends no id.
    delivery_id = models.CharField(max_length=100)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=50, blank=True, default="")
    commit = models.CharField(max_length=64, blank=True, default="")
    branch = models.CharField(max_length=200, blank=True, default="")
    build_url = models.CharField(max_length=500, blank=True, default="")
    jobs_created = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "inbound deliveries"
        constraints = [
            # A delivery is processed once: a replay hits this and makes nothing.
            models.UniqueConstraint(fields=["source", "delivery_id"], name="unique_inbound_delivery"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.event} {self.delivery_id}"


class WebhookEndpoint(models.Model):
    """Where a project's alerts go. `url` is the receiver for generic and Slack
    endpoints and the API base (default https://api.github.com) for GitHub
    commit statuses; `secret` signs generic bodies; `token` authenticates to
    GitHub. Secrets and tokens are write-only in admin."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhook_endpoints")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=ENDPOINT_KINDS)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, blank=True, default="")
    token = models.CharField(max_length=200, blank=True, default="")
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_endpoint_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def clean(self) -> None:
        """The URL must resolve to public addresses only (notify.destinations); checked again at send time."""
        super().clean()
        if self.url:
            try:
                check_url(self.url)
            except UnsafeDestination as exc:
                raise ValidationError({"url": str(exc)}) from None


class Delivery(models.Model):
    """One event of an alert summary sent to one endpoint, with every attempt counted.
    `delivery_id` goes out as X-Roofwatch-Delivery on every attempt, so a
    receiver can drop a repeat (a worker killed after sending but before it
    recorded the 2xx sends again)."""

    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    summary = models.ForeignKey("regressions.AlertSummary", on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=EVENTS, default=EVENT_ALERT_SUMMARY)
    request_url = models.CharField(max_length=600, blank=True, default="")
    request_body = models.TextField(blank=True, default="")  # the same on every attempt
    response_code = models.PositiveIntegerField(null=True, blank=True)  # of the last attempt
    attempts = models.PositiveIntegerField(default=0)
    # While an attempt is in flight: until when (request timeout + grace); a dead worker's attempt lapses.
    sending_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, default="")  # may hold the receiver's reply: staff only
    # When the sweep may send it, if still neither delivered nor given up: a grace after filing (in case its
    # queued send was lost), the end of an attempt in flight, or the backoff after a failed attempt.
    next_attempt_at = models.DateTimeField(default=timezone.now, editable=False)
    gave_up = models.BooleanField(default=False)  # a permanent error, or out of retries
    delivered_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            # Idempotency: one delivery per summary, endpoint and event, however often the task runs.
            models.UniqueConstraint(fields=["endpoint", "summary", "event"], name="unique_delivery_per_event"),
        ]
        indexes = [
            # The sweep's question: which undelivered deliveries are due.
            models.Index(fields=["next_attempt_at"], condition=models.Q(delivered_at=None, gave_up=False),
                         name="delivery_due"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.delivery_id} ({self.event}) of summary {self.summary_id} to {self.endpoint}"

    @property
    def state(self) -> str:
        if self.delivered_at:
            return "delivered"
        return "failed" if self.gave_up else "pending"
