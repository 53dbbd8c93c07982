"""The charts hold the points the data says they should, read from the
Chart.js instances in the browser."""
import pytest

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
    page.open(f"/runs/{run.pk}/", "body[data-run-ready]")
    assert page.chart_points("layer-chart") == [LAYERS, LAYERS]  # medians and p25-p75 ranges
    compute, bandwidth, roof = page.chart_points("roofline-chart")
    assert (compute, bandwidth, roof) == (3, 3, 3)  # fc* compute-bound, relu* bandwidth-bound; roof: slope, ridge, flat
    page.assert_no_errors()


def test_a_wide_run_shows_the_top_layers_plus_one_rest_bar(transactional_db, page):
    machine = Machine.objects.create(name="wide")
    run, _ = ingest_report(make_report(fingerprint="wide", layers=40), machine)
    page.open(f"/runs/{run.pk}/", "body[data-run-ready]")
    labels = page.page.evaluate("() => Chart.getChart(document.getElementById('layer-chart')).data.labels")
    assert len(labels) == TOP_N + 1 and labels[-1] == f"rest ({40 - TOP_N} layers)"
    page.page.click("[data-order=index]")
    assert page.chart_points("layer-chart") == [40, 40]
    page.assert_no_errors()


def test_the_compare_roofline_has_a_point_per_layer_on_each_side(seeded, page):
    runs = seeded.runs[MACHINES[0]]
    page.open(f"/compare/?before={runs[SLOW_FROM - 1].pk}&after={runs[SLOW_FROM].pk}", "body[data-compare-ready]")
    before_c, before_b, after_c, after_b, moves, roof = page.chart_points("compare-roofline")
    assert (before_c + before_b, after_c + after_b) == (LAYERS, LAYERS)
    assert moves == 3 * LAYERS  # before, after, gap per layer
    page.assert_no_errors()


def test_the_overview_sparkline_holds_the_recent_runs_of_each_machine(seeded, page):
    page.open("/", "body[data-overview-ready]")
    assert page.chart_points(f"spark-{seeded.benchmark_id}") == [RUNS] * len(MACHINES)
    page.assert_no_errors()


def test_the_run_charts_percent_of_roof_matches_the_server_rendered_table(seeded, page):
    run = seeded.runs[MACHINES[0]][SLOW_FROM]
    page.open(f"/runs/{run.pk}/", "body[data-run-ready]")
    # run.js computes it from the API's peaks; the table from dashboard/roofline.py
    charted = page.page.evaluate(
        "() => Object.fromEntries(Chart.getChart(document.getElementById('roofline-chart')).data.datasets"
        ".flatMap(d => d.data).filter(p => p.layer).map(p => [p.layer.name, [p.layer.roof_pct, p.layer.share_pct]]))"
    )
    table = page.page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#layers tbody tr')].map(tr => [tr.dataset.layer,"
        " [parseFloat(tr.cells[13].dataset.value), parseFloat(tr.cells[5].dataset.value)]]))"
    )
    assert len(charted) == LAYERS and charted.keys() == table.keys()
    for name, (roof_pct, share_pct) in charted.items():
        # the table's sort value is the % it shows: capped at 100 like the chart's tooltip
        assert min(roof_pct, 100.0) == pytest.approx(table[name][0], rel=1e-6) and roof_pct > 0
        assert share_pct == pytest.approx(table[name][1], rel=1e-6)
    page.assert_no_errors()


@pytest.mark.parametrize("path, api, canvas", [
    ("/runs/{run}/", "**/api/v1/runs/*/", "#layer-chart"),
    ("/compare/?before={before}&after={run}", "**/dash-api/compare/*", "#compare-roofline"),
    ("/", "**/dash-api/sparklines/*", "canvas.spark"),
    ("/alerts/{summary}/", "**/api/v1/series/**", ".mini-chart canvas"),
])
def test_a_chart_whose_data_fails_to_load_says_so_where_it_would_be(seeded, page, path, api, canvas):
    runs = seeded.runs[MACHINES[0]]
    page.page.route(api, lambda route: route.fulfill(status=503, content_type="application/json",
                                                        body='{"detail": "database unavailable"}'))
    page.open(path.format(run=runs[SLOW_FROM].pk, before=runs[SLOW_FROM - 1].pk, summary=seeded.summary.pk))
    error = page.page.wait_for_selector(".chart-error", timeout=10_000)
    message = error.text_content() + " " + (error.get_attribute("title") or "")
    assert "database unavailable" in message and "503" in message
    assert page.page.is_hidden(canvas)
    assert page.page.evaluate("() => Object.keys(document.body.dataset).filter(k => k.endsWith('Ready'))") == []
    page.shot("chart-error-" + canvas.strip("#.").replace(".", "-").replace(" ", "-"))
