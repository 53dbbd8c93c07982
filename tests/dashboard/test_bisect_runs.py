"""A bisection's run (purpose "bisect") on the seeded machines: the run list and
its page show it, marked; the series data, sparklines, overview's latest runs
and machine pages leave it out."""
from datetime import timedelta

import pytest

from engine.report import PURPOSE_BISECT
from results.ingest import ingest_report
from tests.report_factory import make_report

from .helpers import table_rows
from .seed import LAYERS, MACHINES


@pytest.fixture
def bisect_run(seeded):
    """A 10x slower run at an old commit, newer than every seeded run on the first machine."""
    newest = seeded.runs[MACHINES[0]][-1]
    report = make_report(fingerprint=MACHINES[0], layers=LAYERS, commit="c3", time_scale=10.0,
                         started_at=newest.started_at + timedelta(hours=1), purpose=PURPOSE_BISECT)
    run, created = ingest_report(report, seeded.machines[MACHINES[0]])
    assert created and run.benchmark_id == seeded.benchmark_id
    return run


def test_the_run_list_and_run_page_show_it_marked(client, seeded, bisect_run):
    rows = table_rows(client.get("/runs/").content.decode(), "runs")
    assert rows[0]["attrs"]["data-run"] == str(bisect_run.pk) and "bisect" in rows[0]["cells"][0]
    assert "bisect" not in rows[1]["cells"][0]
    response = client.get(f"/runs/{bisect_run.pk}/")
    assert 'id="purpose"' in response.content.decode()
    assert response.context["previous_run"] == seeded.runs[MACHINES[0]][-1].pk


def test_the_series_data_leaves_it_out(client, seeded, bisect_run):
    for layer in ("end_to_end", "fc1"):
        body = client.get("/dash-api/series/", {"benchmark": seeded.benchmark_id, "layer": layer}).json()
        runs = {p["run"] for machine in body["machines"] for p in machine["points"]}
        assert bisect_run.pk not in runs and len(runs) == 2 * len(seeded.runs[MACHINES[0]]), layer


def test_sparklines_and_the_overview_latest_leave_it_out(client, seeded, bisect_run):
    body = client.get("/dash-api/sparklines/").json()
    line = next(m for m in body["benchmarks"][0]["machines"] if m["name"] == MACHINES[0])
    assert line["medians_ms"] == pytest.approx([run.median * 1e3 for run in seeded.runs[MACHINES[0]]])
    (row,) = client.get("/").context["benchmarks"]
    assert row["latest"]["id"] == seeded.runs[row["latest"]["machine"].name][-1].pk


def test_the_machine_page_lists_its_series_runs_only(client, seeded, bisect_run):
    html = client.get(f"/machines/{MACHINES[0]}/").content.decode()
    shown = [row["attrs"]["data-run"] for row in table_rows(html, "runs")]
    assert str(bisect_run.pk) not in shown and shown[0] == str(seeded.runs[MACHINES[0]][-1].pk)
