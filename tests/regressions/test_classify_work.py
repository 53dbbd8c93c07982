"""More FLOPs or bytes per inference that explain the slowdown, and layers on
one side only, are a work change: the model changed."""
from regressions.classify import classify_change

from .classify_runs import runs

FC_FLOPS, FC_BYTES = 134_217_728, 4_722_688


def test_it_calls_a_layer_doing_twice_the_flops_in_twice_the_time_work():
    verdict = classify_change(runs(), runs(scale={"fc": 2.1}, counts={"fc": (2 * FC_FLOPS, 2 * FC_BYTES)}))
    assert verdict.kind == "work"
    fc = verdict.layers[0]
    assert fc.kind == "work" and abs(fc.evidence["work_ratio"] - 2.0) < 1e-6


def test_it_calls_a_small_count_change_with_a_big_slowdown_by_its_bound():
    # 5% more FLOPs cannot explain a 2x slowdown: the layer's efficiency fell
    verdict = classify_change(runs(), runs(scale={"fc": 2.0}, counts={"fc": (int(FC_FLOPS * 1.05), FC_BYTES)}))
    assert verdict.kind == "compute"


def test_it_calls_new_layers_work():
    new = {"emb2": ("EmbeddingBag", 1_000_000, 8_000_000, 800e-6), "emb3": ("EmbeddingBag", 1_000_000, 8_000_000, 800e-6)}
    verdict = classify_change(runs(), runs(add=new))
    assert verdict.kind == "work"
    assert sorted(v.layer for v in verdict.layers) == ["emb2", "emb3"]
    assert all(v.kind == "work" and v.evidence["only"] == "after" for v in verdict.layers)
    assert abs(sum(v.share for v in verdict.layers) - 1.0) < 0.05


def test_it_calls_a_removed_layer_work_with_a_negative_change():
    verdict = classify_change(runs(), runs(drop=("emb",)))
    assert verdict.kind == "work"
    (emb,) = verdict.layers
    assert emb.layer == "emb" and emb.rel_change == -1.0 and emb.evidence["only"] == "before"


def test_it_calls_many_small_layers_with_more_work_work_together():
    # 30 tables each 30% slower with 2x the bytes, with +-15% run-to-run scatter per table:
    # one by one within their noise, together clear
    tables = {f"t{i}": ("EmbeddingBag", 10_000, 80_000, 20e-6) for i in range(30)}

    def group(scale: float, counts: tuple[int, int] | None) -> list:
        return [run for r in range(3) for run in runs(
            1, add=tables, scale={name: scale * (1 + 0.15 * ((r + i) % 3 - 1)) for i, name in enumerate(tables)},
            counts={name: counts for name in tables} if counts else None)]

    verdict = classify_change(group(1.0, None), group(1.3, (20_000, 160_000)))
    assert verdict.kind == "work"
    assert {v.layer for v in verdict.layers} == set(tables)
    assert all("taken together" in v.evidence["reason"] for v in verdict.layers)
    # the same times with the counts unchanged: no layer stands out on its own
    assert classify_change(group(1.0, None), group(1.3, None)).layers == ()
