"""A memory-bound layer whose GB/s fell, or whose bytes rose with the same FLOPs, is a bandwidth change."""
from regressions.classify import classify_change

from .classify_runs import runs


def test_it_calls_a_slower_memory_bound_layer_bandwidth():
    verdict = classify_change(runs(), runs(scale={"emb": 1.5}))
    assert verdict.kind == "bandwidth"
    emb = verdict.layers[0]
    assert (emb.layer, emb.kind, emb.evidence["bound_before"]) == ("emb", "bandwidth", "bandwidth")
    assert emb.evidence["gbs_after"] < emb.evidence["gbs_before"]


def test_it_calls_more_bytes_for_the_same_flops_bandwidth_when_time_outgrows_them():
    # bytes up 10%, time up 60%: the extra traffic is there but does not explain the slowdown
    verdict = classify_change(runs(), runs(scale={"emb": 1.6}, counts={"emb": (1_000_000, 8_800_000)}))
    assert verdict.kind == "bandwidth" and verdict.layers[0].evidence["reason"] == "memory-bound layer whose bytes rose"


def test_it_calls_a_cache_resident_layer_that_slowed_bandwidth_and_flags_it():
    # relu at 2x the DRAM roof (its data sat in cache), then at 60% of it
    fast = {"relu": 40e-6 * 0.57 / 2.0}
    verdict = classify_change(runs(scale=fast), runs(scale={"relu": 0.57 / 0.6}))
    relu = verdict.layers[0]
    assert relu.kind == "bandwidth" and relu.evidence["cache_resident"] is True
    assert relu.evidence["pct_of_roof_before"] > 100 > relu.evidence["pct_of_roof_after"]
