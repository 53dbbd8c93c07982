"""The charts hold the points the data says they should, read from the
Chart.js instances in the browser."""
from fleet.models import Machine
from results.ingest import ingest_report
from tests.dashboard.seed import LAYERS, MACHINES, RUNS, SLOW_FROM
from tests.report_factory import make_report

TOP_N = 15


def test_the_series_chart_holds_every_point_of_every_machine_with_its_band(seeded, page):
    page.open(f"/series/?benchmark={seeded.benchmark_id}&layer=fc1", "body[data-series-ready]")
    sets = page.page.evaluate(
        "() => Chart.getChart(document.getElementById('series-chart')).data.datasets"
        ".map(d => [d.rwMachine, d.rwRole, d.data.length])"
    )
    assert sorted(sets) == sorted([[m, role, RUNS] for m in MACHINES for role in ("p25", "p75", "value")])
    page.assert_no_errors()


def test_the_run_page_draws_one_bar_and_one_roofline_point_per_layer(seeded, page):
    run = seeded.runs[MACHINES[0]][SLOW_FROM]
    page.open(f"/runs/{run.pk}/", "#layers")
    assert page.chart_points("layer-chart") == [LAYERS, LAYERS]  # medians and p25-p75 ranges
    compute, bandwidth, roof = page.chart_points("roofline-chart")
    assert (compute, bandwidth, roof) == (3, 3, 3)  # fc* compute-bound, relu* bandwidth-bound; roof: slope, ridge, flat
    page.assert_no_errors()


def test_a_wide_run_shows_the_top_layers_plus_one_rest_bar(transactional_db, page):
    machine = Machine.objects.create(name="wide")
    run, _ = ingest_report(make_report(fingerprint="wide", layers=40), machine)
    page.open(f"/runs/{run.pk}/", "#layers")
    labels = page.page.evaluate("() => Chart.getChart(document.getElementById('layer-chart')).data.labels")
    assert len(labels) == TOP_N + 1 and labels[-1] == f"rest ({40 - TOP_N} layers)"
    page.page.click("[data-order=index]")
    assert page.chart_points("layer-chart") == [40, 40]
    page.assert_no_errors()


def test_the_compare_roofline_has_a_point_per_layer_on_each_side(seeded, page):
    runs = seeded.runs[MACHINES[0]]
    page.open(f"/compare/?before={runs[SLOW_FROM - 1].pk}&after={runs[SLOW_FROM].pk}", "#deltas")
    before_c, before_b, after_c, after_b, moves, roof = page.chart_points("compare-roofline")
    assert (before_c + before_b, after_c + after_b) == (LAYERS, LAYERS)
    assert moves == 3 * LAYERS  # before, after, gap per layer
    page.assert_no_errors()


def test_the_overview_sparkline_holds_the_recent_runs_of_each_machine(seeded, page):
    page.open("/", "canvas.spark")
    assert page.chart_points(f"spark-{seeded.benchmark_id}") == [RUNS] * len(MACHINES)
    page.assert_no_errors()
