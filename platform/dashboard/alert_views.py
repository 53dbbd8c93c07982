"""Alert summaries: the list, and one summary with its change, affected
series, classification evidence, attribution, the detection policy that
applied, bisections and triage."""
from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from bisection.models import Bisection
from bisection.runner import bisectable_alert
from bisection.steps import culprit_views, steps
from core.access import read_page, sees_private
from regressions.models import SUMMARY_STATUSES, Alert, AlertSummary
from results.links import commit_url, compare_url

from .summaries import card, summaries_with_alerts

EVIDENCE_ALERTS = 6  # layer alerts whose roofline evidence is spelled out
CHART_ALERTS = 12  # affected series drawn as small charts


@read_page
def alert_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or ""
    summaries = summaries_with_alerts().order_by("-created", "-id")
    if status in SUMMARY_STATUSES:
        summaries = summaries.filter(status=status)
    else:
        status = ""
    page = Paginator(summaries, 30).get_page(request.GET.get("page"))
    return render(request, "dashboard/alert_list.html", {
        "page": page, "cards": [card(s) for s in page.object_list], "status": status, "statuses": SUMMARY_STATUSES,
    })


def bisection_views(summary: AlertSummary) -> list[dict]:
    """The summary's bisections, newest first, each with its culprits and steps."""
    bisections = Bisection.objects.filter(summary=summary).select_related(
        "machine", "benchmark", "started_by", "cancelled_by").order_by("-created", "-id")
    return [{"bisection": b, "culprits": culprit_views(b), "steps": steps(b)} for b in bisections]


DIRECTION_TEXT = {"up": "slower is bad", "down": "faster is bad", "both": "either way is bad"}


def policy_rows(alerts: list[Alert]) -> list[dict]:
    """The policies the alerts were detected under (Alert.policy), one row per
    distinct policy with the series it applied to; each cell a value and its source."""
    rows: dict[str, dict] = {}
    for a in alerts:
        p = a.policy
        if not p:  # filed before policies were recorded
            continue
        key = repr(sorted(p.items()))
        row = rows.setdefault(key, {"series": [], "cells": [
            _cell(p, "min_rel_change", lambda v: f"{v:.1%}"),
            _cell(p, "bad_direction", lambda v: f"{v} ({DIRECTION_TEXT.get(v, '?')})"),
            _cell(p, "window", lambda v: f"{v} runs"),
            _cell(p, "muted", lambda v: "yes" if v else "no"),
            _cell(p, "alert_improvements", lambda v: "yes" if v else "no"),
        ]})
        row["series"].append(f"{a.layer} on {a.machine.name}")
    return list(rows.values())


def _cell(policy: dict, name: str, text) -> dict:
    entry = policy.get(name) or {}
    value = entry.get("value")
    return {"text": "—" if value is None else text(value), "source": entry.get("source", "")}


@read_page
def alert_summary(request: HttpRequest, summary_id: int) -> HttpResponse:
    summary = get_object_or_404(
        summaries_with_alerts().prefetch_related("alerts__run_before", "alerts__run_after", "events__user"),
        pk=summary_id,
    )
    c = card(summary)
    commits = c.commits
    links = {}
    if commits:
        repo = commits.get("repository", "")
        links = {
            "range": compare_url(repo, commits.get("last_good", ""), commits.get("first_bad", "")),
            "last_good": commit_url(repo, commits.get("last_good", "")),
            "first_bad": commit_url(repo, commits.get("first_bad", "")),
        }
    others = AlertSummary.objects.filter(project=summary.project).exclude(pk=summary.pk).order_by("-created")[:50]
    small_charts = [
        {"id": f"alert-chart-{a.pk}", "alert": a.pk, "machine": a.machine.name, "benchmark": a.benchmark_id,
         "layer": a.layer, "change_t": a.run_after.started_at.isoformat(), "before": a.before, "after": a.after}
        for a in c.alerts[:CHART_ALERTS]
    ]
    bisections = bisection_views(summary)
    return render(request, "dashboard/alert_summary.html", {
        "card": c,
        "summary": summary,
        "links": links,
        "evidence_alerts": [a for a in c.alerts if a.evidence][:EVIDENCE_ALERTS],
        "events": list(summary.events.all()),
        # notify's delivery log, through the reverse relation: dashboard imports nothing of notify.
        "deliveries": summary.deliveries.select_related("endpoint"),
        "others": others,
        "small_charts": small_charts,
        "chart_ids": {a.pk: f"alert-chart-{a.pk}" for a in c.alerts[:CHART_ALERTS]},
        "triage_statuses": ["acknowledged", "invalid", "fixed"],
        "show_users": sees_private(request.user),  # who triaged or bisected: not for anonymous readers
        "bisections": bisections,
        "policies": policy_rows(c.alerts),
        # A range to bisect, none running: offered to signed-in users (the API refuses the rest).
        "can_bisect": request.user.is_authenticated and not any(b["bisection"].active for b in bisections)
        and bisectable_alert(summary) is not None,
    })
