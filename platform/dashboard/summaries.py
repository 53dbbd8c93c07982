"""Alert summaries as the dashboard shows them: the lead change, how big,
where, and what caused it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.report import END_TO_END
from regressions.model_change import describe
from regressions.models import ACKNOWLEDGED, UNTRIAGED, Alert, AlertSummary

OPEN_STATUSES = (UNTRIAGED, ACKNOWLEDGED)


@dataclass
class SummaryCard:
    summary: AlertSummary
    alerts: list[Alert]  # current (not vanished) alerts, largest change first
    lead: Alert | None  # the end-to-end alert with the largest change, else the largest alert
    machines: list[str] = field(default_factory=list)
    benchmarks: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)

    @property
    def magnitude_pct(self) -> float | None:
        return None if self.lead is None else self.lead.rel_change * 100.0

    @property
    def commits(self) -> dict[str, Any] | None:
        return self.summary.attribution.get("commits")

    @property
    def model_version(self) -> dict[str, Any] | None:
        return self.summary.attribution.get("model_version")

    @property
    def model_change(self) -> str:
        """"model changed: version A -> version B at commit C; work changed in ..." (regressions.model_change)."""
        return describe(self.model_version) if self.model_version else ""

    @property
    def config(self) -> dict[str, Any]:
        return self.summary.attribution.get("config") or {}

    @property
    def cause(self) -> str:
        """One line: what changed between the runs on either side."""
        parts = []
        if self.commits:
            parts.append(f"{self.commits['last_good'][:10]}…{self.commits['first_bad'][:10]}")
        if self.model_version:
            parts.append(self.model_change)
        if self.config:
            parts.append("config: " + ", ".join(sorted(self.config)))
        return " · ".join(parts) or "no commit, model or config change: the machine itself"


def card(summary: AlertSummary) -> SummaryCard:
    """Needs summary.alerts prefetched with machine and benchmark."""
    alerts = [a for a in summary.alerts.all() if a.vanished_at is None] or list(summary.alerts.all())
    alerts.sort(key=lambda a: (a.layer != END_TO_END, -abs(a.rel_change)))
    lead = alerts[0] if alerts else None
    return SummaryCard(
        summary=summary,
        alerts=alerts,
        lead=lead,
        machines=sorted({a.machine.name for a in alerts}),
        benchmarks=sorted({str(a.benchmark) for a in alerts}),
        layers=sorted({a.layer for a in alerts if a.layer != END_TO_END}),
    )


def summaries_with_alerts():
    return AlertSummary.objects.select_related("project", "triaged_by").prefetch_related(
        "alerts__machine", "alerts__benchmark"
    )


def open_cards(limit: int = 20) -> list[SummaryCard]:
    summaries = summaries_with_alerts().filter(status__in=OPEN_STATUSES).order_by("-created", "-id")[:limit]
    return [card(s) for s in summaries]

