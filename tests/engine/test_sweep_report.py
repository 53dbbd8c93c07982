"""The sweep report's two questions: the throughput/p99 Pareto front and
the best configuration under a p99 SLO; and its optional additions (rounds)."""
from __future__ import annotations

import json
from pathlib import Path

from engine.sweep.report import ConfigResult, SweepReport, best_under_slo, measured_points, pareto_front

# (throughput samples/s, p99 ms)
POINTS = [(100.0, 5.0), (150.0, 8.0), (120.0, 9.0), (150.0, 7.0), (90.0, 4.0), (200.0, 20.0)]


def test_the_pareto_front_keeps_only_points_nothing_beats():
    # (150, 8) loses to (150, 7); (120, 9) to (150, 7)
    assert pareto_front(POINTS) == [0, 3, 4, 5]
    assert pareto_front([(1.0, 1.0), (1.0, 1.0)]) == [0, 1]  # equal points both stay


def test_the_best_under_an_slo_is_the_highest_throughput_within_it():
    assert best_under_slo(POINTS, 7.0) == 3
    assert best_under_slo(POINTS, 6.9) == 0
    assert best_under_slo(POINTS, 25.0) == 5
    assert best_under_slo(POINTS, 3.0) is None
    assert best_under_slo([(10.0, 2.0), (10.0, 1.0)], 5.0) == 1  # a tie goes to the lower p99


def test_only_measured_configurations_are_points():
    base = dict(threads=1, batch=8, instances=1, pin="off", passes="none", quant="none")
    results = [ConfigResult(**base, status="ok", throughput=10.0, p99_ms=1.0),
               ConfigResult(**base, status="skipped", error="pin on needs 4 CPUs"),
               ConfigResult(**base, status="ok", throughput=20.0, p99_ms=2.0)]
    assert measured_points(results) == [(0, (10.0, 1.0)), (2, (20.0, 2.0))]


def test_rounds_are_optional_additions_so_older_reports_still_load():
    old = json.loads((Path(__file__).resolve().parents[1] / "sweep_reports" / "dlrm_grid.json").read_text())
    assert "rounds" not in old and "throughput_rounds" not in old["results"][0]
    results = [ConfigResult(**r) for r in old["results"]]
    assert results[0].throughput_rounds == [] and results[0].p99_ms_rounds == []
    report = SweepReport(**{**old, "results": results})
    assert report.rounds == 1 and report.schema == "roofwatch.sweep/1"
    written = json.loads(report.to_json())
    assert written["rounds"] == 1 and written["results"][0]["throughput_rounds"] == []
