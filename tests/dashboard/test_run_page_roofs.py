"""The run page judges each layer against its own roofs (threads, stream or
gather) when the report carried them, draws those roofs, shows the CIs, kernel
bytes and timed page faults, and never shows more than 100% of roof."""
import json
import re

import pytest
from django.urls import reverse

from fleet.models import Machine
from results.ingest import ingest_report
from results.models import LayerMeasurement
from tests.report_factory import GATHER_GBS, ONE_THREAD_GBS, ONE_THREAD_GFLOPS, make_report, old_report

from .helpers import table_rows

pytestmark = pytest.mark.django_db

ROOF, PCT = 12, 13  # columns of the layer table: roof · threads, % of roof


def page(client, run) -> str:
    response = client.get(reverse("dashboard:run-page", args=[run.id]))
    assert response.status_code == 200
    return response.content.decode()


def roof_lines(html: str) -> list[dict]:
    match = re.search(r'<script id="roof-lines" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page embeds no roof lines"
    return json.loads(match.group(1))


def shown_percents(html: str) -> list[float]:
    """Every "N%" the page shows next to "of roof" or in the % of roof column."""
    cells = [row["cells"][PCT] for row in table_rows(html, "layers")]
    return [float(m.replace(",", "")) for cell in cells for m in re.findall(r"([\d,.]+)%", cell)]


@pytest.fixture
def machine(db) -> Machine:
    return Machine.objects.create(name="m1")


def ingest(machine, report):
    run, _ = ingest_report(report, machine)
    return run


def test_each_layer_is_judged_against_its_own_roof(client, machine):
    # The factory's layers run at half the attainable rate of their own roofs; a Relu's is
    # the gather roof (6.3 GB/s), against which the run's 23 GB/s stream peak would say ~14%.
    run = ingest(machine, make_report(layers=4, fidelity=True))
    rows = {row["attrs"]["data-layer"]: row["cells"] for row in table_rows(page(client, run), "layers")}
    assert [rows[name][PCT] for name in ("fc0", "relu0", "fc1", "relu1")] == ["50%"] * 4
    assert (rows["fc0"][ROOF], rows["relu0"][ROOF]) == ("stream · 2", "gather · 2")


def test_an_old_run_is_judged_against_the_run_peaks(client, machine):
    run = ingest(machine, old_report(make_report(layers=4)))
    html = page(client, run)
    rows = table_rows(html, "layers")
    assert {row["cells"][PCT] for row in rows} == {"50%"}  # the factory's old layers: half of the run's peaks
    assert {row["cells"][ROOF] for row in rows} == {"run peaks"}  # and no threads
    assert "CI" not in " ".join(row["cells"][4] for row in rows)
    assert "95% CI of the median: not measured" in html and "timed page faults: not counted" in html
    assert [line["label"] for line in roof_lines(html)] == ["stream, 23 GB/s"]


def test_the_table_shows_kernel_bytes_beside_bytes_and_the_ci_of_each_median(client, machine):
    report = make_report(layers=2, fidelity=True)
    run = ingest(machine, report)
    fc0, relu0 = (row["cells"] for row in table_rows(page(client, run), "layers"))
    assert fc0[7] == "722 k 1.44 M kernel"  # 721,920 minimum bytes, the kernel moves twice that
    assert relu0[7] == "131 k"  # moves just the minimum: no kernel bytes
    t = report["layers"][0]["time"]
    assert fc0[4] == f"{t['median'] * 1e3:.3f} {t['p25'] * 1e3:.3f}–{t['p75'] * 1e3:.3f} " \
                     f"CI {t['ci_low'] * 1e3:.3f}–{t['ci_high'] * 1e3:.3f}"


def test_the_summary_shows_the_end_to_end_ci_the_target_and_the_timed_page_faults(client, machine):
    report = make_report(layers=2, fidelity=True, timed_page_faults=37)
    run = ingest(machine, report)
    html = page(client, run)
    e2e = report["end_to_end"]
    tile = html[html.index('id="end-to-end"'):html.index('id="machine"')]
    assert f"95% CI of the median {e2e['ci_low'] * 1e3:.3g}–{e2e['ci_high'] * 1e3:.3g} ms" in tile
    assert "target ±1.0% in 30 s" in tile
    assert "37 timed page faults (not a steady state)" in tile

    steady = ingest(machine, make_report(layers=2, fidelity=True))
    assert "0 timed page faults (steady state)" in page(client, steady)


def test_the_roofline_draws_the_gather_roof_and_the_one_thread_roof_that_judge_layers(client, machine):
    report = make_report(layers=6, fidelity=True)
    fc2 = report["layers"][4]  # runs on one thread: judged against the 1-thread stream roof
    fc2.update(threads=1, roof_gflops=ONE_THREAD_GFLOPS, roof_gbs=ONE_THREAD_GBS)
    run = ingest(machine, report)
    html = page(client, run)
    lines = roof_lines(html)
    assert lines == [
        {"kind": "stream", "threads": 2, "gflops": 180.0, "gbs": 23.0, "label": "stream, 23 GB/s"},
        {"kind": "gather", "threads": 2, "gflops": 180.0, "gbs": GATHER_GBS["256"],
         "label": "gather 256 B rows, 6.3 GB/s"},
        {"kind": "stream", "threads": 1, "gflops": ONE_THREAD_GFLOPS, "gbs": ONE_THREAD_GBS,
         "label": "stream, 14 GB/s, 1 thread"},
    ]
    legend = html[html.index('id="roof-legend"'):html.index('id="roofline-chart"')]
    assert all(line["label"] in legend for line in lines)
    tile = html[html.index('id="roofline"'):html.index('id="source"')]
    assert "64 B rows 1.90 · 256 B rows 6.30 · 1024 B rows 11.0 GB/s" in tile  # the run's gather roofs
    assert "95.0 GFLOP/s · 14.0 GB/s" in tile  # and the 1-thread roofs


def test_a_layer_above_its_roof_is_shown_capped_with_a_marker_that_says_why(client, machine):
    run = ingest(machine, make_report(layers=4, fidelity=True))
    LayerMeasurement.objects.filter(run=run, name="relu0").update(gbs=6.3 * 3, gflops=6.3 * 3 * 0.125)
    html = page(client, run)
    rows = {row["attrs"]["data-layer"]: row["cells"] for row in table_rows(html, "layers")}
    assert rows["relu0"][PCT] == "100%▲"
    assert max(shown_percents(html)) == 100.0
    cell = re.search(r'<td class="num roof-pct"[^>]*title="([^"]*)"', html)
    assert cell and "Measured 300% of its roof, shown capped at 100%" in cell.group(1)
    assert "still in cache" in cell.group(1) and "re-measures its peaks" in cell.group(1)
    assert "marks 1 layer measured above its roof" in html


def test_an_old_layer_above_the_run_peaks_is_capped_too(client, machine):
    run = ingest(machine, old_report(make_report(layers=2)))
    LayerMeasurement.objects.filter(run=run, name="fc0").update(gflops=400.0)
    html = page(client, run)
    assert max(shown_percents(html)) == 100.0
    assert "▲" in table_rows(html, "layers")[0]["cells"][PCT]


def test_the_compare_page_caps_the_percent_of_roof_too(client, machine):
    before = ingest(machine, make_report(layers=2, fidelity=True, started_at="2026-01-01T00:00:00+00:00"))
    after = ingest(machine, make_report(layers=2, fidelity=True, started_at="2026-01-02T00:00:00+00:00"))
    LayerMeasurement.objects.filter(run=after, name="fc0").update(gflops=500.0)
    response = client.get(reverse("dashboard:compare"), {"before": before.id, "after": after.id})
    html = response.content.decode()
    rows = {row["attrs"]["data-layer"]: row["cells"] for row in table_rows(html, "deltas")}
    assert rows["fc0"][8] == "50% → 100%▲"
    assert rows["relu0"][8] == "50% → 50%"
    assert 'title="Measured 278% of its roof' in html
