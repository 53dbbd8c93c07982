"""The series page marks the known change with an annotation that links to its alert."""
from regressions.models import Alert
from results.models import Run
from tests.dashboard.seed import MACHINES, SLOW_FROM, SLOW_LAYER


def annotations(page):
    return page.page.evaluate(
        "() => { const a = Chart.getChart(document.getElementById('series-chart')).options.plugins.annotation.annotations;"
        " return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, {x: v.xMin, url: v.rwUrl, label: v.label.content}])); }"
    )


def test_the_series_page_shows_the_change_as_an_annotation_at_the_first_bad_run(seeded, page):
    alert = Alert.objects.get(layer=SLOW_LAYER)
    first_bad = seeded.runs[MACHINES[0]][SLOW_FROM]
    page.open(f"/series/?benchmark={seeded.benchmark_id}&layer={SLOW_LAYER}", "body[data-series-ready]")
    shown = annotations(page)
    assert list(shown) == [f"change-{alert.pk}"]
    mark = shown[f"change-{alert.pk}"]
    assert mark["x"] == first_bad.started_at.timestamp() * 1000
    assert mark["url"] == f"/alerts/{seeded.summary.pk}/" and f"alert #{seeded.summary.pk}" in mark["label"]
    assert page.page.locator(f"#change-table a[href='/alerts/{seeded.summary.pk}/']").count() == 1
    page.assert_no_errors()


def test_by_commit_the_annotation_sits_on_the_first_bad_commit(seeded, page):
    alert = Alert.objects.get(layer=SLOW_LAYER)
    page.open(f"/series/?benchmark={seeded.benchmark_id}&layer={SLOW_LAYER}", "body[data-series-ready]")
    page.page.click("[data-x=commit]")
    assert annotations(page)[f"change-{alert.pk}"]["x"] == SLOW_FROM  # commits c0..c17 in order, c12 at 12
    page.shot("series-by-commit")
    page.assert_no_errors()


def model_markers(page):
    return page.page.evaluate(
        "() => { const a = Chart.getChart(document.getElementById('series-chart')).options.plugins.annotation.annotations;"
        " return Object.entries(a).filter(([k, v]) => v.rwModelChange)"
        ".map(([k, v]) => ({x: v.xMin, version: v.rwModelChange, label: v.label.content})); }"
    )


def test_a_model_version_change_is_marked_where_it_happens(seeded, page):
    """A machine's runs change model version at c12: one marker there, labelled with both versions."""
    runs = seeded.runs[MACHINES[0]]
    Run.objects.filter(pk__in=[r.pk for r in runs[SLOW_FROM:]]).update(model_version="bbbbbbbbbbbbbbbbbbbb")
    page.open(f"/series/?benchmark={seeded.benchmark_id}&layer={SLOW_LAYER}", "body[data-series-ready]")
    (marker,) = model_markers(page)
    assert marker["x"] == runs[SLOW_FROM].started_at.timestamp() * 1000
    assert marker["version"] == "bbbbbbbbbbbbbbbbbbbb"
    assert marker["label"].startswith("model " + runs[0].model_version[:7]) and marker["label"].endswith("bbbbbbb")
    page.page.click("[data-x=commit]")
    assert [m["x"] for m in model_markers(page)] == [SLOW_FROM]
    page.assert_no_errors()
