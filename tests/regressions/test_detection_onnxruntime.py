"""Detection over an onnxruntime history (a real din_small report, stored
again and again): a layer of unknown work that slows down is found, alerted
and classified `unknown` (no roof judges it), not guessed."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from fleet.models import Machine
from regressions.detection import detect_benchmark
from regressions.models import REGRESSION, Alert
from results.ingest import ingest_report
from tests.backend_reports import report

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SLOW_FROM, RUNS, FACTOR = 12, 18, 3.0


def _steady(layer_time: dict, median: float) -> None:
    """Tight repeats around `median` (the real report's 6 repeats are wide)."""
    layer_time.update(median=median, p25=median * 0.99, p75=median * 1.01, min=median * 0.98,
                      ci_low=median * 0.995, ci_high=median * 1.005)


def history(slow_layer: str) -> list[dict]:
    rng = np.random.default_rng(0)
    reports = []
    for i in range(RUNS):
        r = report("din_small_ort", started_at=(START + timedelta(hours=i)).isoformat())
        r["source"]["commit"] = f"c{i}"
        jitter = float(1 + rng.normal(0, 0.005))
        total = 0.0
        for layer in r["layers"]:
            median = layer["time"]["median"] * jitter * (FACTOR if layer["name"] == slow_layer and i >= SLOW_FROM else 1)
            _steady(layer["time"], median)
            total += median
        _steady(r["end_to_end"], total + 20e-6)
        reports.append(r)
    return reports


def test_a_slower_layer_of_unknown_work_is_alerted_and_classified_unknown():
    machine = Machine.objects.create(name="m1")
    slow = "att.fc1/matmul/MatMulAddFusion"
    sent = history(slow)
    assert next(ly for ly in sent[0]["layers"] if ly["name"] == slow)["work_unknown"]
    runs = [ingest_report(r, machine)[0] for r in sent]
    detect_benchmark(runs[0].machine_id, runs[0].benchmark_id)
    alert = Alert.objects.get(layer=slow)
    assert alert.direction == REGRESSION and alert.rel_change == pytest.approx(FACTOR - 1, rel=0.1)
    assert (alert.run_before, alert.run_after) == (runs[SLOW_FROM - 1], runs[SLOW_FROM])
    assert alert.classification == "unknown"
    assert alert.evidence["flops_before"] is None and alert.evidence["work_known"] is False
