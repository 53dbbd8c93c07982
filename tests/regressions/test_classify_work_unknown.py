"""Layers whose FLOPs and bytes are unknown (an onnxruntime node the engine has
no formula for: report `work_unknown`, flops/bytes null): a move of theirs is
`unknown`, never judged against a roof, and they leave the other layers'
verdicts and the peaks alone."""
import json

import pytest

from regressions.classify import LayerObs, RunObs, classify_change
from regressions.report_obs import run_obs_from_report

from .classify_runs import PEAK_GBS, PEAK_GFLOPS, runs

SCATTER = ("ScatterND", None, None, 300e-6)  # (op, flops, bytes, median) as classify_runs' BASE


def test_a_moved_layer_of_unknown_work_is_unknown_with_times_as_evidence():
    before = runs(add={"pool": SCATTER})
    after = runs(add={"pool": SCATTER}, scale={"pool": 2.0})
    verdict = classify_change(before, after)
    (layer,) = verdict.layers
    assert layer.layer == "pool" and layer.kind == "unknown"
    assert layer.rel_change == pytest.approx(1.0, rel=0.02)
    ev = layer.evidence
    assert ev["flops_before"] is None and ev["pct_of_roof_after"] is None and ev["work_known"] is False
    assert "unknown" in ev["reason"]
    assert verdict.kind == "unknown" and verdict.evidence["contributions"]["unknown"] > 0
    json.dumps(verdict.evidence, allow_nan=False)
    json.dumps(layer.evidence, allow_nan=False)


def test_known_layers_beside_it_are_still_judged_by_their_roofs():
    before = runs(add={"pool": SCATTER})
    after = runs(add={"pool": SCATTER}, scale={"fc": 1.5})
    verdict = classify_change(before, after)
    assert [(v.layer, v.kind) for v in verdict.layers] == [("fc", "compute")]
    assert verdict.kind == "compute"


def test_it_does_not_move_the_empirical_peaks():
    plain = classify_change(runs(peaks=(None, None)), runs(scale={"fc": 2.0}, peaks=(None, None)))
    with_unknown = classify_change(runs(peaks=(None, None), add={"pool": SCATTER}),
                                   runs(scale={"fc": 2.0}, peaks=(None, None), add={"pool": SCATTER}))
    assert with_unknown.evidence["peak_gflops_before"] == plain.evidence["peak_gflops_before"]
    assert with_unknown.kind == "compute"


def test_a_layer_that_gains_unknown_work_is_a_one_sided_work_change():
    verdict = classify_change(runs(), runs(add={"pool": SCATTER}))
    (layer,) = verdict.layers
    assert layer.kind == "work" and layer.evidence["only"] == "after" and layer.evidence["flops_after"] is None


def test_flops_without_bytes_is_refused():
    run = RunObs((LayerObs("odd", "Gemm", 10, None, 1e-3),), 1e-3, PEAK_GFLOPS, PEAK_GBS)
    with pytest.raises(ValueError, match="unknown together"):
        classify_change([run], [run])


def _report_layer(**fields):
    layer = {"name": "pool", "op": "ScatterND", "time": {"median": 1e-4}, "flops": None, "bytes": None}
    return {"end_to_end": {"median": 1e-3}, "machine": {}, "layers": [{**layer, **fields}]}


def test_report_obs_reads_null_work_with_its_reason_and_refuses_it_without():
    (layer,) = run_obs_from_report(_report_layer(work_unknown="op type 'ScatterND' has no engine formula")).layers
    assert layer.flops is None and layer.bytes is None
    with pytest.raises(ValueError, match=r"report.layers\[0\].flops"):
        run_obs_from_report(_report_layer())
