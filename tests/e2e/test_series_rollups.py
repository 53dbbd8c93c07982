"""The series page over the raw window's start: a note says from when the
points are daily rollups, and those points are drawn as diamonds, apart from
the runs."""
from datetime import datetime, timedelta, timezone

import pytest

from fleet.models import Machine
from results.catalogue import refresh_all_series
from results.ingest import ingest_report
from results.retention import prune_layers
from tests.report_factory import make_report

FIRST = datetime(2025, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def pruned(transactional_db) -> int:
    """Two runs a day, March 1 to 6; retention leaves raw rows from March 4 on."""
    machine = Machine.objects.create(name="m1")
    for day in range(6):
        for hour in (6, 18):
            run = ingest_report(make_report(layers=2, started_at=FIRST + timedelta(days=day, hours=hour)), machine)[0]
    refresh_all_series()
    prune_layers(2, now=datetime(2025, 3, 6, 12, tzinfo=timezone.utc))
    return run.benchmark_id


def test_the_series_page_says_where_daily_rollups_end_and_draws_them_apart(pruned, page):
    page.open(f"/series/?benchmark={pruned}&layer=fc0", "body[data-series-ready]")
    note = page.page.locator("#series-resolution")
    assert note.is_visible()
    assert note.inner_text().startswith("Before 2025-03-04: daily rollups")
    styles = page.page.evaluate(
        "() => { const c = Chart.getChart(document.getElementById('series-chart'));"
        " const i = c.data.datasets.findIndex(d => d.rwRole === 'value');"
        " return c.getDatasetMeta(i).data.map(e => e.options.pointStyle); }"
    )
    assert styles == ["rectRot"] * 3 + ["circle"] * 6
    page.shot("series-daily-rollups")

    page.page.click("[data-x=commit]")  # a day has no one commit: only the runs
    assert page.chart_points("series-chart")[-1] == 6
    page.assert_no_errors()


def test_the_note_stays_hidden_without_daily_points(pruned, page):
    page.open(f"/series/?benchmark={pruned}&layer=end_to_end", "body[data-series-ready]")
    assert not page.page.locator("#series-resolution").is_visible()
    page.assert_no_errors()
