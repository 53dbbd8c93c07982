"""The evaluation's hit rule (benchmarks/detection_eval.py): within +-2 points, one to one."""

from benchmarks.detection_eval_support.scoring import Tally, match


def test_a_detection_within_two_points_is_a_hit_and_three_away_is_not():
    assert match([50], [52]) == (1, 0, 0)
    assert match([50], [48]) == (1, 0, 0)
    assert match([50], [53]) == (0, 1, 1)


def test_one_detection_cannot_claim_two_true_changes():
    assert match([50, 52], [51]) == (1, 0, 1)


def test_extra_detections_near_a_found_change_are_false_alerts():
    assert match([50], [49, 50, 51]) == (1, 2, 0)


def test_false_alerts_per_thousand_points_count_change_free_series_only():
    tally = Tally()
    tally.add([], [10], n_points=200, change_free=True)
    tally.add([], [], n_points=800, change_free=True)
    tally.add([100], [100, 150], n_points=200, change_free=False)
    assert tally.false_per_1000 == 1.0
    assert (tally.tp, tally.fp, tally.fn) == (1, 2, 0)
    assert tally.precision == 1 / 3 and tally.recall == 1.0
