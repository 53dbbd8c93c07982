"""Pages of onnxruntime runs (issue 24), from real reports of both backends
(tests.backend_reports): the run page with layers of unknown work, and the
compare page matching our engine's layers with onnxruntime's through their
sources."""
from __future__ import annotations

import html as html_lib
import re

import pytest

from fleet.models import Machine
from results.ingest import ingest_report
from results.models import Run
from tests.backend_reports import report

from .helpers import table_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored():
    """name -> the stored run of each report in tests.backend_reports, all on one machine."""
    machine = Machine.objects.create(name="m1")
    return {name: ingest_report(report(name), machine)[0]
            for name in ("mlp_engine", "mlp_ort", "din_small_engine", "din_small_ort")}


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def test_the_run_page_shows_unknown_work_as_a_dash_with_its_reason(client, stored):
    run = stored["din_small_ort"]
    page = _page(client, f"/runs/{run.pk}/")
    unknown = {ly.name: ly.work_unknown for ly in run.layers.filter(work_unknown__isnull=False)}
    rows = {row["attrs"]["data-layer"]: row["cells"] for row in table_rows(page, "layers")}
    assert len(rows) == run.layers.count() and unknown
    for name, reason in unknown.items():
        cells = rows[name]
        assert cells[6:11] == ["—"] * 5 and cells[11] == "unknown" and cells[13] == "—"  # FLOPs .. AI, bound, % roof
        assert html_lib.escape(f"work unknown: {reason}") in page
    known = next(cells for name, cells in rows.items() if name not in unknown and name == "fused top.fc1")
    assert known[11] in ("compute", "bandwidth") and known[13].endswith("%")
    note = re.search(r'<span id="work-unknown-note">(.*?)</span>', page).group(1)
    assert note.startswith(f"{len(unknown)} layers of unknown work")
    assert 'id="backend"' in page and "backend=<b>onnxruntime</b>" in page
    assert f"onnxruntime <b>{run.config['runtime']['version']}</b>" in page


def test_the_run_api_behind_the_charts_serves_null_work_with_the_reason(client, stored):
    run = stored["din_small_ort"]
    layers = client.get(f"/api/v1/runs/{run.pk}/").json()["layers"]
    unknown = [ly for ly in layers if ly["work_unknown"]]
    assert unknown and all(ly["ai"] is None and ly["gflops"] is None and ly["bound"] is None for ly in unknown)


def test_an_engine_run_page_shows_no_backend_chip(client, stored):
    page = _page(client, f"/runs/{stored['mlp_engine'].pk}/")
    assert 'id="backend"' not in page and 'id="work-unknown-note"' not in page


def _compare(client, before: Run, after: Run) -> tuple[str, list[dict], dict]:
    query = f"?before={before.pk}&after={after.pk}"
    return (_page(client, "/compare/" + query), table_rows(_page(client, "/compare/" + query), "deltas"),
            client.get("/dash-api/compare/" + query).json())


def test_engine_beside_onnxruntime_matches_mlp_layers_through_their_sources(client, stored):
    page, rows, data = _compare(client, stored["mlp_engine"], stored["mlp_ort"])
    assert 'id="by-sources"' in page and "matched through their sources" in page
    assert data["matched_by"] == "sources"
    pairs = {(tuple(d["before_layers"]), tuple(d["after_layers"])): d["sources"] for d in data["layers"]}
    assert pairs == {
        (("fc1+relu1",), ("fused fc1",)): ["fc1", "relu1"],
        (("fc2+relu2",), ("fused fc2",)): ["fc2", "relu2"],
        (("fc3+relu3",), ("fused fc3",)): ["fc3", "relu3"],
        (("fc4",), ("fc4",)): ["fc4"],
    }
    # Both sides of every row are real layers with points on the chart and a change.
    assert all(d["before"]["gflops"] > 0 and d["after"]["gflops"] > 0 and d["rel_pct"] is not None
               for d in data["layers"])
    assert len(rows) == 4 and rows[0]["cells"][1] == " ".join(data["layers"][0]["sources"])


def test_fused_and_clustered_din_layers_are_grouped_where_sources_overlap(client, stored):
    before, after = stored["din_small_engine"], stored["din_small_ort"]
    _, rows, data = _compare(client, before, after)
    groups = {frozenset(d["before_layers"]): d for d in data["layers"]}
    # The engine's activation unit (one layer, six sources) faces every onnxruntime node computing part of it.
    unit = groups[frozenset({"att.features+att.fc1+att.fc1.act"})]
    assert set(unit["after_layers"]) == {"att.query_tiled", "att.diff", "att.prod", "att.features",
                                         "gemm_input_reshape", "att.fc1/matmul/MatMulAddFusion",
                                         "gemm_output_reshape", "att.fc1.act"}
    # onnxruntime's reshape-Gemm-reshape cluster for fc3 and the scores covers two engine layers.
    fc3 = groups[frozenset({"att.fc3", "att.scores"})]
    assert len(fc3["after_layers"]) == 3 and fc3["sources"] == ["att.fc3", "att.scores"]
    # A combined side sums its layers' time; where some work is unknown, no GFLOP/s is claimed.
    engine_ms = {ly.name: ly.median * 1e3 for ly in before.layers.all()}
    assert fc3["before"]["median_ms"] == pytest.approx(engine_ms["att.fc3"] + engine_ms["att.scores"])
    assert fc3["after"]["gflops"] is None and fc3["after"]["bound"] is None
    # Every layer of either run is in exactly one row.
    assert sorted(n for d in data["layers"] for n in d["before_layers"]) == sorted(engine_ms)
    assert sorted(n for d in data["layers"] for n in d["after_layers"]) == sorted(
        ly.name for ly in after.layers.all())
    assert len(rows) == len(data["layers"]) < before.layers.count()


def test_runs_of_one_backend_are_still_matched_by_name(client, stored, db):
    machine = Machine.objects.get(name="m1")
    again = ingest_report(report("din_small_ort"), machine)[0]
    page, rows, data = _compare(client, stored["din_small_ort"], again)
    assert data["matched_by"] == "name" and 'id="by-sources"' not in page
    assert [d["name"] for d in data["layers"]] == [row["attrs"]["data-layer"] for row in rows]
    assert len(rows) == again.layers.count() and "before_layers" not in data["layers"][0]
    unknown = next(d for d in data["layers"] if d["before"]["ai"] is None)
    assert unknown["after"]["gflops"] is None and unknown["rel_pct"] is not None
