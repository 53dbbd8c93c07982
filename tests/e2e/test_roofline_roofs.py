"""The run page's roofline draws, in the browser, every roof that judges a
layer: the run's stream roof, the gather roof as its own line (labelled with
its row size) and a 1-thread roof; each layer's % of roof is taken against its
own roof and never shown above 100%."""
from fleet.models import Machine
from results.ingest import ingest_report
from results.models import LayerMeasurement
from tests.report_factory import GATHER_GBS, ONE_THREAD_GBS, ONE_THREAD_GFLOPS, make_report, old_report

ROOF_SETS = ("() => Chart.getChart(document.getElementById('roofline-chart')).data.datasets"
             ".filter(d => d.rwRoof).map(d => [d.label, d.rwRoof, d.data.map(p => [p.x, p.y]), d.borderDash])")
LAYER_POINTS = ("() => Chart.getChart(document.getElementById('roofline-chart')).data.datasets"
                ".flatMap(d => d.data).filter(p => p.layer).map(p => [p.layer.name, p.layer.roof_pct])")


def run_page(page, run):
    page.open(f"/runs/{run.pk}/", "body[data-run-ready]")
    return page.page.evaluate(ROOF_SETS)


def test_the_chart_draws_the_gather_roof_and_the_one_thread_roof_beside_the_stream_roof(transactional_db, page):
    report = make_report(fingerprint="roofs", layers=6, fidelity=True)
    report["layers"][4].update(threads=1, roof_gflops=ONE_THREAD_GFLOPS, roof_gbs=ONE_THREAD_GBS)
    run, _ = ingest_report(report, Machine.objects.create(name="roofs"))
    roofs = run_page(page, run)

    assert [(label, kind) for label, kind, _, _ in roofs] == [
        ("stream, 23 GB/s", "stream"), ("gather 256 B rows, 6.3 GB/s", "gather"), ("stream, 14 GB/s, 1 thread", "stream"),
    ]
    (_, _, stream, solid), (_, _, gather, dashed), (_, _, one, dotted) = roofs
    assert solid == [] and dashed and dotted and dashed != dotted
    # each line: the bandwidth slope (y = x * GB/s) up to its ridge, flat at its GFLOP/s after
    for points, gflops, gbs in ((stream, 180.0, 23.0), (gather, 180.0, GATHER_GBS["256"]),
                                (one, ONE_THREAD_GFLOPS, ONE_THREAD_GBS)):
        (x0, y0), ridge, flat = points
        assert abs(y0 / x0 - gbs) < 1e-9 * gbs
        assert abs(ridge[0] - gflops / gbs) < 1e-9 * ridge[0] and ridge[1] == flat[1] == gflops
    percents = dict(page.page.evaluate(LAYER_POINTS))
    # each against its own roof: the factory's layers reach half of theirs; fc2's 90 GFLOP/s (half the
    # 2-thread roof it was made for) against the 1-thread compute roof of 95 it now claims
    expected = {name: 50.0 for name in percents} | {"fc2": 90.0 / ONE_THREAD_GFLOPS * 100}
    assert all(abs(percents[name] - expected[name]) < 1e-6 for name in percents), percents
    legend = page.page.inner_text("#roof-legend")
    assert "gather 256 B rows, 6.3 GB/s" in legend and "stream, 14 GB/s, 1 thread" in legend
    page.shot("run-roofs")
    page.assert_no_errors()


def test_an_old_run_draws_the_stream_roof_alone(transactional_db, page):
    run, _ = ingest_report(old_report(make_report(fingerprint="old", layers=4)), Machine.objects.create(name="old"))
    assert [label for label, *_ in run_page(page, run)] == ["stream, 23 GB/s"]
    page.assert_no_errors()


def test_a_layer_above_its_roof_shows_100_percent_in_the_tooltip_and_the_table(transactional_db, page):
    run, _ = ingest_report(make_report(fingerprint="hot", layers=4, fidelity=True), Machine.objects.create(name="hot"))
    LayerMeasurement.objects.filter(run=run, name="relu0").update(gbs=6.3 * 3, gflops=6.3 * 3 * 0.125)
    run_page(page, run)
    text = page.page.evaluate(
        "() => window.rwRoofline.roofText(Chart.getChart(document.getElementById('roofline-chart')).data.datasets"
        ".flatMap(d => d.data).find(p => p.layer && p.layer.name === 'relu0').layer.roof_pct)")
    assert text.startswith("100% of roof (capped: measured 300%")
    cell = page.page.locator("#layer-1 td.roof-pct")
    assert cell.inner_text().strip() == "100%▲"
    assert "shown capped at 100%" in cell.get_attribute("title")
    page.assert_no_errors()
