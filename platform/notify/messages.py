"""What an alert summary looks like to each kind of endpoint: the URL to
POST to and the JSON body. Pure functions of the summary."""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from notify.models import KIND_GENERIC, KIND_GITHUB_STATUS, KIND_SLACK, WebhookEndpoint
from regressions.models import REGRESSION, AlertSummary

GITHUB_REPO_RE = re.compile(r"github\.com[/:](?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$")
STATUS_CONTEXT = "roofwatch"
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
                    "direction": a.direction, "classification": a.classification} for a in alerts],
    }


def headline(doc: dict) -> str:
    cause = doc["attribution"].get("commits", {}).get("first_bad")
    what = f"commit {cause[:12]}" if cause else ("a config change" if "config" in doc["attribution"]
                                                   else "a model change" if "model_version" in doc["attribution"]
                                                   else "an unknown change")
    worst = f"{doc['worst_rel_change']:+.1%}" if doc["worst_rel_change"] is not None else "?"
    kind = f" {doc['classification']}-bound" if doc["classification"] in ("compute", "bandwidth") else ""
    return f"{doc['project']}: {len(doc['alerts'])} series slower (worst {worst}){kind} after {what}"


def message(endpoint: WebhookEndpoint, summary: AlertSummary, delivery_id: str) -> Message:
    doc = summary_document(summary)
    if endpoint.kind == KIND_GENERIC:
        return Message(endpoint.url, {"event": "alert_summary", "delivery": delivery_id, "summary": doc})
    if endpoint.kind == KIND_SLACK:
        lines = [f"*<{doc['url']}|{headline(doc)}>*"] + [
            f"• {a['benchmark']} `{a['layer']}` on {a['machine']}: {a['rel_change']:+.1%}"
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
