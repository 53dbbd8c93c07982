"""Layers too short for the roofline, and time between the layers, are overhead."""
from regressions.classify import classify_change

from .classify_runs import runs

TINY = {f"cast{i}": ("Cast", 256, 2048, 4e-6) for i in range(40)}  # 40 layers of 4 us


def test_it_calls_a_tiny_layer_that_slowed_overhead():
    verdict = classify_change(runs(), runs(scale={"sigmoid": 1.8}))
    (sigmoid,) = verdict.layers
    assert sigmoid.kind == "overhead" and "dispatch" in sigmoid.evidence["reason"]
    # 4 us of a 1.9 ms model: real for the layer, too small to name a cause end to end
    assert verdict.kind == "unknown"


def test_it_calls_many_tiny_layers_that_slowed_overhead():
    verdict = classify_change(runs(add=TINY), runs(add=TINY, scale={name: 1.5 for name in TINY}))
    assert verdict.kind == "overhead" and len(verdict.layers) == 40
    assert {v.kind for v in verdict.layers} == {"overhead"}


def test_it_calls_time_between_the_layers_overhead():
    # 44 layers, 300 us more between them: ~7 us of dispatch per layer
    verdict = classify_change(runs(add=TINY), runs(add=TINY, extra_e2e=300e-6))
    assert verdict.kind == "overhead" and verdict.layers == ()
    ev = verdict.evidence
    assert ev["between_layers_moved"] is True
    assert abs(ev["between_layers_after"] - ev["between_layers_before"] - 300e-6) < 30e-6


def test_it_does_not_take_more_time_between_layers_than_dispatch_can_make_for_overhead():
    # 4 layers and 3 ms more end to end: other processes' time, not dispatch
    verdict = classify_change(runs(), runs(extra_e2e=3e-3))
    assert verdict.kind == "unknown" and verdict.evidence["between_layers_moved"] is False
    assert verdict.evidence["end_to_end_moved"] is True


def test_it_lets_a_real_layer_slowdown_outweigh_tiny_layer_noise():
    verdict = classify_change(runs(), runs(scale={"sigmoid": 1.5, "emb": 1.4}))
    assert verdict.kind == "bandwidth"
    assert [v.layer for v in verdict.layers] == ["emb", "sigmoid"]  # largest contribution first
