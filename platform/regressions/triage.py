"""Triage: the changes people make to summaries and alerts, each recorded as a
TriageEvent with who and when, in one transaction with the change itself."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from regressions.models import (
    ALERT_STATUSES,
    REASSIGNED,
    SUMMARY_STATUSES,
    Alert,
    AlertSummary,
    TriageEvent,
)


class TriageError(ValueError):
    """A triage request that cannot be carried out; the message says why."""


def set_summary_status(summary: AlertSummary, status: str, user, note: str = "") -> AlertSummary:
    if status not in SUMMARY_STATUSES:
        raise TriageError(f"Unknown summary status {status!r}; expected one of {', '.join(SUMMARY_STATUSES)}.")
    with transaction.atomic():
        summary = AlertSummary.objects.select_for_update().get(pk=summary.pk)
        TriageEvent.objects.create(summary=summary, user=user, action="status", old=summary.status, new=status,
                                   note=note)
        summary.status, summary.triaged_by, summary.triaged_at = status, user, timezone.now()
        summary.save(update_fields=["status", "triaged_by", "triaged_at", "updated"])
    return summary


def set_summary_notes(summary: AlertSummary, notes: str, user) -> AlertSummary:
    with transaction.atomic():
        summary = AlertSummary.objects.select_for_update().get(pk=summary.pk)
        TriageEvent.objects.create(summary=summary, user=user, action="notes", note=notes)
        summary.notes = notes
        summary.save(update_fields=["notes", "updated"])
    return summary


def set_alert_status(alert: Alert, status: str, user, note: str = "") -> Alert:
    if status == REASSIGNED:
        raise TriageError("An alert is reassigned by moving it to another summary (its 'summary' field), "
                          "not by setting its status.")
    if status not in ALERT_STATUSES:
        raise TriageError(f"Unknown alert status {status!r}; expected one of {', '.join(ALERT_STATUSES)}.")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        TriageEvent.objects.create(summary=alert.summary, alert=alert, user=user, action="status", old=alert.status,
                                   new=status, note=note)
        alert.status = status
        alert.save(update_fields=["status", "updated"])
    return alert


def reassign_alert(alert: Alert, target: AlertSummary, user, note: str = "") -> Alert:
    """Move an alert to another summary (a person judged it has that cause);
    its original summary is kept."""
    if target.project_id != alert.summary.project_id:
        raise TriageError(f"Summary {target.pk} is of another project than alert {alert.pk}.")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        TriageEvent.objects.create(summary=target, alert=alert, user=user, action="reassign",
                                   old=str(alert.summary_id), new=str(target.pk), note=note)
        alert.summary, alert.status = target, REASSIGNED
        alert.save(update_fields=["summary", "status", "updated"])
    return alert
