"""A compute-bound layer whose FLOPs stayed the same but whose FLOP/s fell is a compute change."""
from regressions.classify import classify_change

from .classify_runs import PEAK_GBS, PEAK_GFLOPS, runs


def test_it_calls_a_slower_compute_bound_layer_compute():
    verdict = classify_change(runs(), runs(scale={"fc": 1.8}))
    assert verdict.kind == "compute"
    assert [v.layer for v in verdict.layers] == ["fc"]
    fc = verdict.layers[0]
    assert fc.kind == "compute" and abs(fc.rel_change - 0.8) < 0.01 and abs(fc.share - 1.0) < 0.05


def test_it_gives_the_roofline_evidence():
    fc = classify_change(runs(), runs(scale={"fc": 2.0})).layers[0]
    ev = fc.evidence
    assert abs(ev["ridge"] - PEAK_GFLOPS / PEAK_GBS) < 1e-9
    assert ev["bound_before"] == ev["bound_after"] == "compute"
    assert abs(ev["ai_before"] - 134_217_728 / 4_722_688) < 1e-9
    assert ev["flops_before"] == ev["flops_after"] and ev["bytes_before"] == ev["bytes_after"]
    assert abs(ev["pct_of_roof_before"] / ev["pct_of_roof_after"] - 2.0) < 0.02
    assert abs(ev["gflops_before"] / ev["gflops_after"] - 2.0) < 0.02
    assert abs(ev["gflops_before"] - 134.2) < 1.0 and abs(ev["pct_of_roof_before"] - 74.6) < 0.5


def test_it_calls_a_faster_compute_bound_layer_compute_too():
    verdict = classify_change(runs(scale={"fc": 1.5}), runs())
    assert verdict.kind == "compute" and verdict.layers[0].rel_change < -0.3
