"""What an alert summary, and the culprit its bisection found, look like to
each kind of endpoint: the URL to POST to and the JSON body. Pure functions
of the summary (and bisection)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from bisection.models import Bisection
from bisection.steps import culprit_views, rounds, steps
from notify.models import EVENT_ALERT_SUMMARY, EVENT_CULPRIT_FOUND, KIND_GENERIC, KIND_GITHUB_STATUS, KIND_SLACK, WebhookEndpoint
from regressions.model_change import describe
from regressions.models import DRIFT, REGRESSION, AlertSummary

GITHUB_REPO_RE = re.compile(r"github\.com[/:](?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$")
STATUS_CONTEXT = "roofwatch"
CULPRIT_CONTEXT = "roofwatch/culprit"  # its own context: the alert's status on first_bad stays
TOP_ALERTS = 10


class NotApplicable(Exception):
    """This endpoint has nothing to say about this summary (e.g. a GitHub
    status for a change no commit caused)."""


@dataclass(frozen=True)
class Message:
    url: str
    body: dict


def summary_url(summary: AlertSummary) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/alerts/{summary.pk}/"


def summary_document(summary: AlertSummary) -> dict:
    alerts = summary.alerts.select_related("machine", "benchmark").order_by("-rel_change")
    regressions = [a for a in alerts if a.direction == REGRESSION]
    return {
        "id": summary.pk, "url": summary_url(summary), "project": summary.project.name,
        "repository": summary.project.repository_url, "status": summary.status,
        "classification": summary.classification, "attribution": summary.attribution,
        "worst_rel_change": max((a.rel_change for a in regressions), default=None),
        "alerts": [{"id": a.pk, "machine": a.machine.name, "benchmark": str(a.benchmark), "layer": a.layer,
                    "metric": a.metric, "before": a.before, "after": a.after, "rel_change": a.rel_change,
                    "direction": a.direction, "classification": a.classification, "kind": a.kind} for a in alerts],
    }


def headline(doc: dict) -> str:
    commits = doc["attribution"].get("commits", {})
    cause = commits.get("first_bad")
    drift = bool(doc["alerts"]) and all(a.get("kind") == DRIFT for a in doc["alerts"])
    if drift and cause:  # a ramp: the cause is somewhere in its commit range
        what = f"creeping drift over {commits['last_good'][:12]}..{cause[:12]}"
        worst = f"{doc['worst_rel_change']:+.1%}" if doc["worst_rel_change"] is not None else "?"
        return f"{doc['project']}: {len(doc['alerts'])} series slower (worst {worst}) by {what}"
    if "model_version" in doc["attribution"]:  # the versions, the commit and the layers whose work changed
        what = describe(doc["attribution"]["model_version"])
    else:
        what = f"commit {cause[:12]}" if cause else ("a config change" if "config" in doc["attribution"]
                                                       else "an unknown change")
    worst = f"{doc['worst_rel_change']:+.1%}" if doc["worst_rel_change"] is not None else "?"
    kind = f" {doc['classification']}-bound" if doc["classification"] in ("compute", "bandwidth") else ""
    return f"{doc['project']}: {len(doc['alerts'])} series slower (worst {worst}){kind} after {what}"


def message(endpoint: WebhookEndpoint, summary: AlertSummary, delivery_id: str) -> Message:
    doc = summary_document(summary)
    if endpoint.kind == KIND_GENERIC:
        return Message(endpoint.url, {"event": EVENT_ALERT_SUMMARY, "delivery": delivery_id, "summary": doc})
    if endpoint.kind == KIND_SLACK:
        lines = [f"*<{doc['url']}|{headline(doc)}>*"] + [
            f"• {a['benchmark']} `{a['layer']}` on {a['machine']}: {a['rel_change']:+.1%}"
            + (" (drift)" if a["kind"] == DRIFT else "")
            for a in doc["alerts"][:TOP_ALERTS]]
        if len(doc["alerts"]) > TOP_ALERTS:
            lines.append(f"… and {len(doc['alerts']) - TOP_ALERTS} more")
        return Message(endpoint.url, {"text": "\n".join(lines)})
    if endpoint.kind == KIND_GITHUB_STATUS:
        sha = doc["attribution"].get("commits", {}).get("first_bad")
        match = GITHUB_REPO_RE.search(summary.project.repository_url)
        if not sha or not match:
            raise NotApplicable("no commit caused this change" if not sha else
                                f"{summary.project.repository_url} is not a GitHub repository")
        base = endpoint.url.rstrip("/")
        return Message(f"{base}/repos/{match['owner']}/{match['repo']}/statuses/{sha}",
                       {"state": "failure", "description": headline(doc)[:140], "target_url": doc["url"],
                        "context": STATUS_CONTEXT})
    raise NotApplicable(f"unknown endpoint kind {endpoint.kind!r}")


def bisection_url(bisection: Bisection) -> str:
    """The bisection's section of the alert page."""
    return f"{summary_url(bisection.summary)}#bisection-{bisection.pk}"


def bisection_document(bisection: Bisection) -> dict:
    return {
        "id": bisection.pk, "url": bisection_url(bisection), "status": bisection.status,
        "culprits": [{key: c[key] for key in ("sha", "subject", "author", "url", "skipped")}
                     for c in culprit_views(bisection)],
        "steps": len(steps(bisection)), "rounds": rounds(bisection),
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def culprit_message(endpoint: WebhookEndpoint, bisection: Bisection, delivery_id: str) -> Message:
    """The culprit_found message of a bisection that found its culprit(s)."""
    summary = bisection.summary
    doc = bisection_document(bisection)
    if not doc["culprits"]:
        raise NotApplicable(f"bisection {bisection.pk} names no culprit")
    if endpoint.kind == KIND_GENERIC:
        return Message(endpoint.url, {"event": EVENT_CULPRIT_FOUND, "delivery": delivery_id,
                                      "summary": summary_document(summary), "bisection": doc})
    if endpoint.kind == KIND_SLACK:
        lines = [f"culprit found: {c['sha'][:12]} {_slack_escape(c['subject'])} (<{doc['url']}>)"
                 for c in doc["culprits"]]
        return Message(endpoint.url, {"text": "\n".join(lines)})
    if endpoint.kind == KIND_GITHUB_STATUS:
        match = GITHUB_REPO_RE.search(bisection.repository)
        if not match:
            raise NotApplicable(f"{bisection.repository} is not a GitHub repository")
        sha = doc["culprits"][0]["sha"]  # the first culprit: one status is enough to point at it
        alerts = summary_document(summary)
        worst = f"{alerts['worst_rel_change']:+.1%}" if alerts["worst_rel_change"] is not None else "?"
        description = (f"{alerts['project']}: the bisection found this commit made {len(alerts['alerts'])} "
                       f"series slower (worst {worst})")
        return Message(f"{endpoint.url.rstrip('/')}/repos/{match['owner']}/{match['repo']}/statuses/{sha}",
                       {"state": "failure", "description": description[:140], "target_url": doc["url"],
                        "context": CULPRIT_CONTEXT})
    raise NotApplicable(f"unknown endpoint kind {endpoint.kind!r}")
