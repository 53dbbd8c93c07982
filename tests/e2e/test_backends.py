"""onnxruntime runs in the browser (issue 24), from real reports of both
backends (tests.backend_reports): the run page's charts leave layers of
unknown work off the roofline, and the compare page draws our engine's layers
beside onnxruntime's, matched through their sources.

With ROOFWATCH_DOC_IMAGES=1 the last test runs `roofwatch-engine run mlp
--backend onnxruntime` for real and saves the README's picture of its run
page roofline (docs/images/onnxruntime-roofline.png)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.models import Machine
from results.ingest import ingest_report
from tests.backend_reports import report
from tests.conftest import REPO

DOC_IMAGE = Path(REPO) / "docs" / "images" / "onnxruntime-roofline.png"


def _store(*names: str) -> list:
    machine = Machine.objects.get_or_create(name="m1")[0]
    return [ingest_report(report(name), machine)[0] for name in names]


def test_the_run_page_leaves_layers_of_unknown_work_off_the_roofline(transactional_db, page):
    (run,) = _store("din_small_ort")
    layers = list(run.layers.all())
    plottable = [ly for ly in layers if ly.work_unknown is None and ly.ai and ly.gflops]
    assert any(ly.work_unknown for ly in layers) and plottable
    page.open(f"/runs/{run.pk}/", "body[data-run-ready]")
    page.page.click("[data-order=index]")
    assert page.chart_points("layer-chart") == [len(layers), len(layers)]  # every layer has a time bar
    compute, bandwidth, _roof = page.chart_points("roofline-chart")[:3]
    assert compute + bandwidth == len(plottable)
    charted = page.page.evaluate(
        "() => Chart.getChart(document.getElementById('roofline-chart')).data.datasets"
        ".flatMap(d => d.data).filter(p => p.layer).map(p => p.layer.name)")
    assert sorted(charted) == sorted(ly.name for ly in plottable)
    page.shot("run-onnxruntime-din_small")
    page.assert_no_errors()


def test_the_compare_page_draws_engine_layers_beside_onnxruntime_ones(transactional_db, page):
    engine, ort = _store("mlp_engine", "mlp_ort")
    page.open(f"/compare/?before={engine.pk}&after={ort.pk}", "body[data-compare-ready]")
    before_c, before_b, after_c, after_b, moves, _roof = page.chart_points("compare-roofline")
    assert (before_c + before_b, after_c + after_b) == (4, 4)  # fc1..fc4, each matched through its sources
    assert moves == 3 * 4
    assert page.page.locator("#by-sources").is_visible()
    assert page.page.locator("#deltas tbody tr").count() == 4
    page.shot("compare-engine-onnxruntime-mlp")
    page.assert_no_errors()


def test_the_compare_page_of_grouped_din_layers_loads_cleanly(transactional_db, page):
    engine, ort = _store("din_small_engine", "din_small_ort")
    page.open(f"/compare/?before={engine.pk}&after={ort.pk}", "body[data-compare-ready]")
    assert page.page.locator("#deltas tbody tr").count() < engine.layers.count()
    page.shot("compare-engine-onnxruntime-din_small")
    page.assert_no_errors()


@pytest.mark.skipif(os.environ.get("ROOFWATCH_DOC_IMAGES") != "1", reason="ROOFWATCH_DOC_IMAGES=1 saves the README image")
def test_save_the_readme_image_of_an_onnxruntime_mlp_roofline(transactional_db, page, tmp_path):
    out = tmp_path / "mlp_ort.json"
    subprocess.run([sys.executable, "-m", "engine.cli", "run", "mlp", "--backend", "onnxruntime", "--repeats", "20",
                    "--json", str(out), "--repository", "https://github.com/example/roofwatch-models"],
                   check=True, cwd=REPO, capture_output=True, timeout=300)
    run, _ = ingest_report(json.loads(out.read_text()), Machine.objects.create(name="epyc-01"))
    page.open(f"/runs/{run.pk}/", "body[data-run-ready]")
    page.page.locator("#roofline-card").screenshot(path=str(DOC_IMAGE))
    page.assert_no_errors()
