"""Fleet health from what a Machine records: when it was last seen, whether it
is enabled, its measured peaks, and its runs."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q
from django.utils import timezone

from fleet.models import Machine

STALE_AFTER = timedelta(hours=24)  # no upload for this long: the agent is probably down

OK, STALE, DISABLED, NEVER = "ok", "stale", "disabled", "never seen"


@dataclass
class MachineHealth:
    machine: Machine
    state: str
    run_count: int
    runs_24h: int
    last_run: datetime | None


def fleet_health() -> list[MachineHealth]:
    now = timezone.now()
    machines = Machine.objects.annotate(
        run_count=Count("runs"),
        runs_24h=Count("runs", filter=Q(runs__started_at__gte=now - timedelta(hours=24))),
        last_run=Max("runs__started_at"),
    ).order_by("name")
    return [MachineHealth(m, state_of(m, now), m.run_count, m.runs_24h, m.last_run) for m in machines]


def state_of(machine: Machine, now: datetime) -> str:
    if not machine.enabled:
        return DISABLED
    if machine.last_seen is None:
        return NEVER
    return STALE if now - machine.last_seen > STALE_AFTER else OK
