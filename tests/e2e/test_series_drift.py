"""The series page shades a drift alert's ramp (a box from its first to its
last run) and lists the ramp with the alert."""
import pytest

from engine.report import END_TO_END
from fleet.models import Machine
from regressions.models import DRIFT
from results.catalogue import refresh_all_series
from tests.regressions.test_detection_drift import detect, ramped


@pytest.fixture
def drift(transactional_db):
    runs = ramped(Machine.objects.create(name="m1"))
    refresh_all_series()
    return next(a for a in detect(runs) if a.kind == DRIFT and a.layer == END_TO_END)


def test_the_ramp_is_shaded_and_listed(drift, page):
    page.open(f"/series/?benchmark={drift.benchmark_id}&layer={END_TO_END}", "body[data-series-ready]")
    box = page.page.evaluate(
        "id => { const a = Chart.getChart(document.getElementById('series-chart')).options.plugins.annotation"
        ".annotations['ramp-' + id]; return a && {type: a.type, x0: a.xMin, x1: a.xMax}; }", drift.pk)
    assert box == {"type": "box", "x0": drift.ramp_start.started_at.timestamp() * 1000,
                   "x1": drift.ramp_end.started_at.timestamp() * 1000}
    listed = page.page.locator(f"#change-table [data-ramp='{drift.pk}']").inner_text()
    assert str(drift.ramp_start_id) in listed and str(drift.ramp_end_id) in listed
    page.shot("series-drift")
    page.assert_no_errors()
