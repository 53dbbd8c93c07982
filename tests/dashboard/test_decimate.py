import pytest

from dashboard.decimate import lttb_indices


def test_it_keeps_every_point_of_a_short_series():
    assert lttb_indices([0, 1, 2, 3], [5, 6, 5, 6], 10) == [0, 1, 2, 3]


def test_it_returns_the_target_count_with_first_and_last_kept():
    xs = list(range(5000))
    ys = [x % 7 for x in xs]
    kept = lttb_indices(xs, ys, 500)
    assert len(kept) == 500
    assert kept[0] == 0 and kept[-1] == 4999
    assert kept == sorted(set(kept))


def test_a_single_spike_survives_decimation():
    ys = [1.0] * 10_000
    ys[6543] = 50.0
    kept = lttb_indices(range(10_000), ys, 100)
    assert 6543 in kept


def test_a_step_keeps_points_on_both_levels():
    ys = [1.0] * 3000 + [2.0] * 2000
    kept = lttb_indices(range(5000), ys, 50)
    levels = {ys[i] for i in kept}
    assert levels == {1.0, 2.0}


def test_it_rejects_a_target_under_three():
    with pytest.raises(ValueError, match="target"):
        lttb_indices([0, 1, 2, 3], [0, 1, 2, 3], 2)


def test_it_rejects_xs_and_ys_of_different_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        lttb_indices([0, 1, 2], [0, 1], 3)
