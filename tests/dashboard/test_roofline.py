import pytest

from dashboard.roofline import (
    MAX_OTHER_ROOF_LINES,
    attainable_gflops,
    fraction_of_roof,
    judging_roofs,
    roof_lines,
    shown_roof_pct,
)


def test_attainable_is_the_compute_roof_above_the_ridge_point():
    # ridge = 180 / 20 = 9 FLOP/byte; at AI 36 the compute roof binds.
    assert attainable_gflops(36.0, 180.0, 20.0) == 180.0


def test_attainable_is_the_bandwidth_slope_below_the_ridge_point():
    assert attainable_gflops(2.0, 180.0, 20.0) == pytest.approx(40.0)


def test_a_compute_bound_layer_is_measured_against_peak_flops():
    # 135 GFLOP/s at AI 36 on a 180 GFLOP/s machine: 75 % of the roof.
    assert fraction_of_roof(135.0, 3.75, 36.0, 180.0, 20.0) == pytest.approx(0.75)


def test_a_bandwidth_bound_layer_is_measured_against_the_bandwidth_slope():
    # AI 0.5 on 20 GB/s: the roof is 10 GFLOP/s; 2.5 GFLOP/s achieved (5 GB/s) is 25 %.
    assert fraction_of_roof(2.5, 5.0, 0.5, 180.0, 20.0) == pytest.approx(0.25)


def test_a_layer_without_flops_is_measured_against_peak_bandwidth():
    # A gather moves 11.5 GB/s on a 23 GB/s machine.
    assert fraction_of_roof(0.0, 11.5, 0.0, 180.0, 23.0) == pytest.approx(0.5)


def test_a_layer_can_land_above_the_roof_when_the_peaks_are_underestimated():
    assert fraction_of_roof(198.0, 1.0, 100.0, 180.0, 20.0) == pytest.approx(1.1)


@pytest.mark.parametrize("peak_gflops, peak_gbs", [(None, 23.0), (180.0, None), (0.0, 23.0), (None, None)])
def test_it_has_no_answer_without_measured_peaks(peak_gflops, peak_gbs):
    assert fraction_of_roof(100.0, 2.0, 50.0, peak_gflops, peak_gbs) is None


def test_it_rejects_a_negative_intensity():
    with pytest.raises(ValueError, match="ai"):
        attainable_gflops(-1.0, 180.0, 20.0)


def test_a_layer_is_judged_against_its_own_roofs_when_it_has_both():
    assert judging_roofs(95.0, 6.3, 180.0, 23.0) == (95.0, 6.3)
    assert judging_roofs(None, None, 180.0, 23.0) == (180.0, 23.0)  # an old report: the run's peaks
    assert judging_roofs(95.0, None, 180.0, 23.0) == (180.0, 23.0)  # half a roof is none


@pytest.mark.parametrize("pct, shown", [(None, None), (42.0, 42.0), (100.0, 100.0), (250.0, 100.0), (-3.0, 0.0)])
def test_no_percent_of_roof_is_shown_above_100(pct, shown):
    assert shown_roof_pct(pct) == shown


def layer(roof=None, gbs=None, gflops=180.0, threads=2, median=1e-4):
    from types import SimpleNamespace
    return SimpleNamespace(roof=roof, roof_gbs=gbs, roof_gflops=gflops if gbs else None, threads=threads,
                           median=median)


ROOFS = [{"threads": 1, "gflops": 95.0, "gbs": 14.0, "gather_gbs": {"64": 0.95, "256": 3.15}},
         {"threads": 2, "gflops": 180.0, "gbs": 23.0, "gather_gbs": {"64": 1.9, "256": 6.3}}]


def test_an_old_run_draws_its_stream_roof_alone_and_a_run_without_peaks_none():
    assert [line.label for line in roof_lines(180.0, 23.0, None, 2, [layer(), layer()])] == ["stream, 23 GB/s"]
    assert roof_lines(None, None, None, None, [layer()]) == []


def test_a_gather_roof_is_labelled_with_its_row_size_where_it_is_a_measured_one():
    lines = roof_lines(180.0, 23.0, ROOFS, 2, [layer("stream", 23.0), layer("gather", 6.3), layer("gather", 6.3)])
    assert [line.label for line in lines] == ["stream, 23 GB/s", "gather 256 B rows, 6.3 GB/s"]


def test_a_gather_roof_between_row_sizes_or_blended_with_streamed_bytes_says_just_its_rate():
    # the engine interpolates between measured row sizes and blends in the layer's streamed bytes
    lines = roof_lines(180.0, 23.0, ROOFS, 2, [layer("gather", 10.789)])
    assert lines[1].label == "gather, 10.8 GB/s"


def test_near_equal_roofs_are_one_line_and_the_most_used_others_are_drawn_first():
    layers = [layer("gather", 5.0 + i, median=1e-4 * (i + 1)) for i in range(6)]  # six gather roofs
    layers += [layer("gather", 10.0 * 1.001, median=1e-3)]  # 10 GB/s within 0.5%: joins the 10 GB/s line
    layers += [layer("stream", 14.0, gflops=95.0, threads=1, median=5.5e-4)]
    lines = roof_lines(180.0, 23.0, ROOFS, 2, layers)
    assert len(lines) == 1 + MAX_OTHER_ROOF_LINES
    assert [line.label for line in lines[1:]] == [
        "gather, 10 GB/s", "stream, 14 GB/s, 1 thread", "gather, 9 GB/s", "gather, 8 GB/s"]
