"""Only layers that moved beyond the scatter between the runs of each group count."""
from regressions.classify import LayerObs, RunObs, classify_change


def group(medians: list[float]) -> list[RunObs]:
    return [RunObs((LayerObs("fc", "Linear", 134_217_728, 4_722_688, m),), m + 1e-5, 180.0, 23.0) for m in medians]


def test_it_ignores_a_move_inside_the_scatter():
    noisy_before = group([1.0e-3, 1.3e-3, 0.8e-3, 1.2e-3, 0.9e-3])
    noisy_after = group([1.1e-3, 1.4e-3, 0.9e-3, 1.3e-3, 1.0e-3])
    assert classify_change(noisy_before, noisy_after).layers == ()


def test_it_finds_the_same_move_when_runs_agree():
    verdict = classify_change(group([1.0e-3, 1.01e-3, 0.99e-3]), group([1.1e-3, 1.11e-3, 1.09e-3]))
    assert [v.layer for v in verdict.layers] == ["fc"] and verdict.kind == "compute"


def test_it_is_not_moved_by_one_outlier_run():
    verdict = classify_change(group([1.0e-3, 1.01e-3, 0.99e-3]), group([1.0e-3, 5.0e-3, 1.01e-3]))
    assert verdict.layers == () and verdict.kind == "unknown"
