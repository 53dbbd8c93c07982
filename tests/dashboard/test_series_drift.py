"""The series page shows a drift alert's ramp: /dash-api/series/ gives each
change its kind and, for a drift, the ramp's first and last run (series.js
shades the span between them and lists them)."""
import pytest

from engine.report import END_TO_END
from fleet.models import Machine
from regressions.models import DRIFT
from results.catalogue import refresh_all_series
from tests.regressions.test_detection_drift import detect, ramped

pytestmark = pytest.mark.django_db


@pytest.fixture
def drifted(db):
    runs = ramped(Machine.objects.create(name="m1"))
    refresh_all_series()
    drift = next(a for a in detect(runs) if a.kind == DRIFT and a.layer == END_TO_END)
    return runs, drift


def test_the_series_data_gives_a_drifts_ramp(client, drifted):
    runs, drift = drifted
    body = client.get("/dash-api/series/", {"benchmark": drift.benchmark_id, "layer": END_TO_END}).json()
    change = next(c for c in body["changes"] if c["alert"] == drift.pk)
    assert change["kind"] == DRIFT and change["run"] == drift.run_after_id
    start, end = change["ramp"]["start"], change["ramp"]["end"]
    assert (start["run"], end["run"]) == (drift.ramp_start_id, drift.ramp_end_id)
    assert start["t"] < change["t"] <= end["t"]
    assert start["commit"] == drift.ramp_start.commit and end["commit"] == drift.ramp_end.commit
    assert all(c["ramp"] is None for c in body["changes"] if c["kind"] != DRIFT)


def test_the_series_page_loads_the_shading_script_and_says_what_it_shows(client, drifted):
    _, drift = drifted
    page = client.get("/series/", {"benchmark": drift.benchmark_id}).content.decode()
    assert "dashboard/series.js" in page and "a shaded span: a drift" in page
