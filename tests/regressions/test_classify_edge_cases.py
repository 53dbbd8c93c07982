"""Defined verdicts for thin or odd data: no peaks, no layers, zero times,
one run per side, nothing moved, and a clear error for bad input."""
import json

import pytest

from regressions.classify import KINDS, LayerObs, RunObs, classify_change

from .classify_runs import runs


def test_it_falls_back_to_empirical_peaks_when_runs_have_none():
    verdict = classify_change(runs(peaks=(None, None)), runs(scale={"fc": 2.0}, peaks=(None, None)))
    assert verdict.kind == "compute" and verdict.evidence["peaks_source"] == "empirical"


def test_it_borrows_the_other_sides_peaks():
    verdict = classify_change(runs(peaks=(None, None)), runs(scale={"emb": 1.5}))
    assert verdict.kind == "bandwidth" and verdict.evidence["peaks_source"] == "runs"
    assert verdict.evidence["peak_gflops_before"] == verdict.evidence["peak_gflops_after"] == 180.0


def test_it_says_unknown_for_runs_without_layers():
    asv = [RunObs((), 1e-3, None, None)]
    verdict = classify_change(asv, [RunObs((), 2e-3, None, None)])
    assert verdict.kind == "unknown" and "unknown" in KINDS and verdict.layers == ()
    assert verdict.evidence["end_to_end_rel_change"] == pytest.approx(1.0)


def test_it_says_unknown_when_nothing_moved():
    verdict = classify_change(runs(), runs())
    assert verdict.kind == "unknown" and verdict.layers == ()


def test_it_handles_zero_times():
    zero = [RunObs((LayerObs("reshape", "Reshape", 0, 0, 0.0),), 0.0, 180.0, 23.0)]
    verdict = classify_change(zero, zero)
    assert verdict.kind == "unknown"
    grown = [RunObs((LayerObs("reshape", "Reshape", 0, 0, 3e-6),), 3e-6, 180.0, 23.0)]
    verdict = classify_change(zero, grown)
    assert verdict.kind == "overhead" and verdict.layers[0].rel_change is None
    json.dumps(verdict.evidence, allow_nan=False)


def test_it_classifies_one_run_per_side():
    verdict = classify_change(runs(1), runs(1, scale={"fc": 1.5}))
    assert verdict.kind == "compute"


def test_it_uses_the_within_run_spread_with_one_run_per_side():
    # a 10% move inside a 60% within-run IQR is noise; the same move with a tight IQR is not
    assert classify_change(runs(1, iqr=0.6), runs(1, scale={"fc": 1.1}, iqr=0.6)).layers == ()
    assert classify_change(runs(1, iqr=0.01), runs(1, scale={"fc": 1.1}, iqr=0.01)).kind == "compute"


def test_its_evidence_is_strict_json():
    verdict = classify_change(runs(), runs(scale={"fc": 2.0, "relu": 0.5}, drop=("emb",)))
    json.dumps(verdict.evidence, allow_nan=False)
    for layer in verdict.layers:
        json.dumps(layer.evidence, allow_nan=False)


def test_it_needs_runs_on_both_sides():
    with pytest.raises(ValueError, match="at least one run on each side"):
        classify_change(runs(), [])


def test_it_names_a_bad_layer_time():
    bad = [RunObs((LayerObs("fc", "Linear", 1, 1, float("nan")),), 1e-3, 180.0, 23.0)]
    with pytest.raises(ValueError, match=r"after\[0\] layer 'fc': median"):
        classify_change(runs(), bad)


def test_it_sees_through_a_preempted_upper_half_with_one_run_per_side():
    # half the repeats took another process's time slice: p75 is 4x, min and p25 are clean
    def one(t: float) -> list[RunObs]:
        fc = LayerObs("fc", "Linear", 134_217_728, 4_722_688, median=t * 2.5, p25=t * 1.01, p75=t * 4.0, min=t, n=10)
        return [RunObs((fc,), t * 2.6, 180.0, 23.0, end_to_end_p25=t * 1.05, end_to_end_p75=t * 4.1,
                       end_to_end_min=t * 1.04, end_to_end_n=10)]

    verdict = classify_change(one(1.0e-3), one(1.2e-3))
    assert verdict.kind == "compute" and verdict.evidence["time_stat"] == "min"
    assert verdict.layers[0].rel_change == pytest.approx(0.2)


def test_its_evidence_is_strict_json_when_a_quantity_overflows():
    """Peaks a report may carry (1e308 GFLOP/s over 1e-300 GB/s) make the ridge
    infinite; PostgreSQL's json refuses Infinity, so the evidence says null."""
    huge = (1e308, 1e-300)
    verdict = classify_change(runs(peaks=huge), runs(scale={"fc": 2.0}, peaks=huge))
    assert verdict.layers and verdict.evidence["ridge"] is None
    json.dumps(verdict.evidence, allow_nan=False)
    for layer in verdict.layers:
        assert layer.evidence["ridge"] is None
        json.dumps(layer.evidence, allow_nan=False)
