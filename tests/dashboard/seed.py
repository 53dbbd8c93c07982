"""Real ingested runs with a real slowdown, for dashboard and browser tests:
two machines run the same 6-layer MLP 18 times; on the first, layer fc1 gets
3x slower from run 12 on (commit c12), and detection files the alerts.
Detection and the series catalogue are run here directly, so it works inside
one test transaction as well as with a live server.

    seeded = seed_regression()
    seeded.summary, seeded.runs["fp-dash-1"][11], seeded.runs["fp-dash-1"][12]
"""
from __future__ import annotations

from dataclasses import dataclass

from fleet.models import Machine
from regressions.detection import detect_benchmark
from regressions.models import AlertSummary
from results.catalogue import refresh_all_series
from results.models import Run
from tests.regressions.history import history, ingest_all

RUNS, SLOW_FROM, SLOW_LAYER, FACTOR, LAYERS = 18, 12, "fc1", 3.0, 6
MACHINES = ("fp-dash-1", "fp-dash-2")  # the first gets slower, the second does not


@dataclass
class Seeded:
    machines: dict[str, Machine]
    runs: dict[str, list[Run]]  # per machine, oldest first
    summary: AlertSummary

    @property
    def benchmark_id(self) -> int:
        return self.runs[MACHINES[0]][0].benchmark_id


def seed_regression() -> Seeded:
    machines, runs = {}, {}
    for i, name in enumerate(MACHINES):
        machine = Machine.objects.create(name=name)
        slow = {SLOW_LAYER: FACTOR} if i == 0 else {}
        reports = history(RUNS, slow_from=SLOW_FROM, slow=slow, layers=LAYERS, seed=i, fingerprint=name)
        machines[name], runs[name] = machine, ingest_all(reports, machine)
        detect_benchmark(machine.pk, runs[name][0].benchmark_id)
    # What the ingest's post-commit task does; called here so tests in one
    # transaction (where on_commit never fires) see the series too.
    refresh_all_series()
    summary = AlertSummary.objects.get()
    return Seeded(machines, runs, summary)
