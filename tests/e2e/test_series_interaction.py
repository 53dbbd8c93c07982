"""The series chart in use: hovering a point shows its commit, model version and
config; zooming into a decimated series fetches the zoomed range again."""
from tests.dashboard.seed import MACHINES, SLOW_FROM, SLOW_LAYER

VALUE_SETS = "Chart.getChart(document.getElementById('series-chart')).data.datasets.filter(d => d.rwRole === 'value')"


def test_hovering_a_point_shows_its_commit_model_version_and_config(seeded, page):
    run = seeded.runs[MACHINES[0]][SLOW_FROM]
    page.open(f"/series/?benchmark={seeded.benchmark_id}&layer={SLOW_LAYER}", "body[data-series-ready]")
    x, y = page.page.evaluate(
        """([machine, index]) => {
             const canvas = document.getElementById('series-chart'), chart = Chart.getChart(canvas);
             const i = chart.data.datasets.findIndex(d => d.rwRole === 'value' && d.rwMachine === machine);
             const el = chart.getDatasetMeta(i).data[index], box = canvas.getBoundingClientRect();
             return [box.left + el.x, box.top + el.y]; }""",
        [MACHINES[0], SLOW_FROM],
    )
    page.page.mouse.move(x, y)
    page.page.wait_for_function("() => Chart.getChart(document.getElementById('series-chart')).tooltip.opacity > 0")
    lines = page.page.evaluate(
        "() => Chart.getChart(document.getElementById('series-chart')).tooltip.body"
        ".flatMap(b => [...b.lines, ...b.after])"
    )
    text = "\n".join(lines)
    assert f"commit {run.commit} · run {run.pk}" in text
    assert f"model {run.model_version[:10]}" in text
    assert "config quant=none threads=2 2 passes" in text
    page.shot("series-tooltip")
    page.assert_no_errors()


def test_zooming_into_a_decimated_series_fetches_the_zoomed_range(seeded, page):
    page.open(f"/series/?benchmark={seeded.benchmark_id}&layer={SLOW_LAYER}&max_points=5", "body[data-series-ready]")
    before = page.page.evaluate(f"() => {VALUE_SETS}.map(d => d.data.map(p => p.x))")
    assert [len(xs) for xs in before] == [5, 5]
    box = page.page.locator("#series-chart").bounding_box()
    page.page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    page.page.mouse.wheel(0, -300)
    page.page.wait_for_function("() => document.getElementById('series-hint').textContent.startsWith('Zoomed')")
    lo, hi = page.page.evaluate(
        "() => { const x = Chart.getChart(document.getElementById('series-chart')).scales.x; return [x.min, x.max]; }"
    )
    after = page.page.evaluate(f"() => {VALUE_SETS}.map(d => d.data.map(p => p.x))")
    for xs, old in zip(after, before):
        assert len(xs) == 5 and all(lo <= x <= hi + 1 for x in xs)
        assert xs != old  # the zoomed range, decimated again, not the first answer
    page.assert_no_errors()
