"""Real engine runs with fault injection: a compute-slowed compute-bound layer
is classified compute, a bandwidth-slowed memory-bound layer bandwidth, and
the verdict is the same with config.inject stripped from the reports."""
import copy

import pytest

from engine.benchmark import RunOptions, run_benchmark
from regressions.classify import classify_change
from regressions.report_obs import run_obs_from_report

MODEL = "mlp"
# fc2: AI 26 (compute-bound), ~0.4 ms: short next to a scheduler time slice, so some repeats
# of every run escape other processes; relu1: AI 0.125 (memory-bound)
PARAMS = {"batch": 64, "sizes": [256, 512, 512, 256]}
RUNS = 3


def reports(inject: list[str]) -> tuple[list[dict], list[dict]]:
    """RUNS baseline and RUNS injected reports, interleaved so load from other
    processes on the machine falls on both groups alike. One BLAS thread: on a
    shared 2-core machine a second thread mostly measures the neighbours."""
    before, after = [], []
    for _ in range(RUNS):
        for group, spec in ((before, []), (after, inject)):
            run = run_benchmark(MODEL, PARAMS, RunOptions(warmup=2, repeats=10, threads=1, inject=spec))
            group.append(run.report.to_dict())
    return before, after


def classify(before: list[dict], after: list[dict]):
    return classify_change([run_obs_from_report(r) for r in before], [run_obs_from_report(r) for r in after])


@pytest.mark.parametrize(("inject", "layer", "kind"), [
    ("compute:fc2:4", "fc2", "compute"),  # 2.5x was once lost in a burst of load (CI, 2026-12-07)
    ("bandwidth:relu1:12", "relu1", "bandwidth"),
])
def test_it_classifies_an_injected_slowdown_by_its_kind(engine_cache_dir, inject, layer, kind):
    before, after = reports([inject])
    assert all(r["config"]["inject"][0].startswith(f"{kind}:{layer}:") for r in after)  # it did inject
    verdict = classify(before, after)
    injected = next(v for v in verdict.layers if v.layer == layer)
    assert injected.kind == kind and injected.evidence["bound_before"] == kind
    assert verdict.kind == kind, verdict

    stripped = copy.deepcopy(after)
    for r in stripped:
        del r["config"]["inject"]
    assert classify(before, stripped) == verdict
