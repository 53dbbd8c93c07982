"""A layer that carries its own roofs (the threads its kernel runs on, the
stream or gather bandwidth roof) is judged against them, not the run's peaks;
a layer without them (older reports) against the run's peaks as before."""
from dataclasses import replace

from regressions.classify import LayerObs, RunObs, classify_change
from regressions.report_obs import run_obs_from_report
from tests.report_factory import GATHER_GBS, make_report, old_report

from .classify_runs import PEAK_GBS, PEAK_GFLOPS, runs

# AI 10 FLOP/B: above the run's ridge (180 / 23 = 7.8), so compute-bound under the run's peaks;
# below the ridge of a 1-thread gather roof (95 GFLOP/s, 3 GB/s: 31.7), so memory-bound under its own.
GATHER = ("EmbeddingBag", 30_000_000, 3_000_000, 2e-3)
OWN = (95.0, 3.0)


def with_gather_layer(group: list[RunObs], own: tuple[float, float] | None) -> list[RunObs]:
    roof = {"roof_gflops": own[0], "roof_gbs": own[1]} if own else {}
    out = []
    for run in group:
        emb = next(ly for ly in run.layers if ly.name == "gather")
        out.append(replace(run, layers=tuple(
            replace(ly, **roof) if ly is emb else ly for ly in run.layers)))
    return out


def groups(own_before, own_after, slow=1.5):
    before = with_gather_layer(runs(add={"gather": GATHER}), own_before)
    after = with_gather_layer(runs(add={"gather": GATHER}, scale={"gather": slow}), own_after)
    return before, after


def test_a_layer_with_its_own_gather_roof_is_bandwidth_bound_where_the_run_peaks_say_compute():
    verdict = classify_change(*groups(None, None))
    assert verdict.kind == "compute" and verdict.layers[0].evidence["roof_source"] == "run"

    verdict = classify_change(*groups(OWN, OWN))
    layer = verdict.layers[0]
    assert (verdict.kind, layer.layer, layer.kind) == ("bandwidth", "gather", "bandwidth")
    assert layer.evidence["roof_source"] == "layer" and layer.evidence["bound_before"] == "bandwidth"
    assert layer.evidence["ridge"] == OWN[0] / OWN[1]
    # % of roof against its own roof: 3 MB in 2 ms is 1.5 GB/s of 3
    assert abs(layer.evidence["pct_of_roof_before"] - 50.0) < 1.0


def test_the_peaks_stay_the_run_peaks_in_the_overall_evidence():
    verdict = classify_change(*groups(OWN, OWN))
    assert (verdict.evidence["peak_gflops_before"], verdict.evidence["peak_gbs_before"]) == (PEAK_GFLOPS, PEAK_GBS)


def test_a_change_from_runs_without_own_roofs_is_judged_under_the_before_sides_roof():
    # the engine started reporting layer roofs between the two groups: one roof for both sides
    verdict = classify_change(*groups(None, OWN))
    assert verdict.layers[0].evidence["roof_source"] == "run" and verdict.kind == "compute"
    verdict = classify_change(*groups(OWN, None))
    assert verdict.layers[0].evidence["roof_source"] == "layer" and verdict.kind == "bandwidth"


def test_a_layer_above_the_run_peaks_but_under_its_own_cache_roof_is_not_cache_resident():
    # a Relu at 2x the run's 23 GB/s stream roof, judged against a 60 GB/s roof of its own
    fast = runs(scale={"relu": 0.57 / 2.0})
    relu_roof = {"relu": (180.0, 60.0)}

    def own(group):
        return [replace(r, layers=tuple(replace(ly, roof_gflops=relu_roof[ly.name][0], roof_gbs=relu_roof[ly.name][1])
                                        if ly.name in relu_roof else ly for ly in r.layers)) for r in group]

    slow = runs(scale={"relu": 0.57 / 0.6})
    assert classify_change(fast, slow).layers[0].evidence["cache_resident"] is True
    relu = classify_change(own(fast), own(slow)).layers[0]
    assert relu.evidence["cache_resident"] is False and relu.evidence["pct_of_roof_before"] < 100


def test_reports_with_layer_roofs_give_observations_with_them_and_old_reports_without():
    report = make_report(layers=2, fidelity=True)
    fc0, relu0 = run_obs_from_report(report).layers
    assert (fc0.roof_gflops, fc0.roof_gbs) == (180.0, 23.0)
    assert (relu0.roof_gflops, relu0.roof_gbs) == (180.0, GATHER_GBS["256"])
    for layer in run_obs_from_report(old_report(make_report(layers=2))).layers:
        assert (layer.roof_gflops, layer.roof_gbs) == (None, None)


def test_layer_obs_without_roofs_keep_the_old_verdicts():
    # LayerObs built the old way (no roof fields) classify exactly as before
    assert LayerObs("x", "Relu", 1, 8, 1e-5).roof_gflops is None
    assert classify_change(runs(), runs(scale={"emb": 1.5})).kind == "bandwidth"
