"""The whole thin slice for real: the engine measures an MLP, the agent spools
and uploads the report over HTTP to a live server, the database holds it, and
the run page's charts load the same numbers from the API."""
import html
import os
import re
import subprocess
import sys

import requests

from fleet.models import Machine
from results.models import LayerMeasurement, Run
from tests.conftest import REPO


def test_a_benchmark_goes_from_the_engine_through_the_agent_to_the_run_page(live_server, engine_cache_dir, tmp_path):
    machine = Machine.objects.create(name="e2e-box")
    token = machine.rotate_token()
    spool = tmp_path / "spool"
    done = subprocess.run(
        [sys.executable, "-m", "agents.cli", "run-once", "--server", live_server.url, "--token", token,
         "--model", "mlp", "--batch", "8", "--repeats", "3", "--warmup", "1", "--count", "2", "--spool", str(spool),
         "--max-wait", "0"],
        cwd=REPO, env={**os.environ, "ROOFWATCH_CACHE_DIR": str(engine_cache_dir)},
        capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(spool.glob("*.json")) == []  # acknowledged reports leave the spool

    runs = list(Run.objects.filter(machine=machine).order_by("id"))
    assert len(runs) == 2
    run = runs[-1]
    machine.refresh_from_db()
    assert machine.fingerprint and machine.peak_gflops > 0 and machine.peak_gbs > 0
    assert run.benchmark.model == "mlp" and run.benchmark.params["batch"] == 8
    assert run.repeats == 3 and run.warmup >= 1 and run.median > 0  # warmup: the pairs really run (settling)
    layers = list(LayerMeasurement.objects.filter(run=run).order_by("index"))
    assert [ly.op for ly in layers[:2]] == ["Linear", "Relu"]
    first = layers[0]
    in_f, out_f = 512, 1024  # the mlp's default first layer at batch 8
    assert first.flops == 2 * 8 * in_f * out_f + 8 * out_f
    assert first.bytes == 4 * (8 * in_f + in_f * out_f + out_f + 8 * out_f)

    page = requests.get(f"{live_server.url}/runs/{run.pk}/", timeout=30)
    assert page.status_code == 200
    match = re.search(r'<canvas id="layer-chart"[^>]*\sdata-url="([^"]+)"', page.text)
    assert match, "the run page's chart names no data URL"
    chart = requests.get(live_server.url + html.unescape(match.group(1)), timeout=30)
    assert chart.status_code == 200 and chart.headers["Content-Type"].startswith("application/json")
    chart = chart.json()
    assert chart["peaks"]["gflops"] == run.peak_gflops > 0 and chart["peaks"]["gbs"] == run.peak_gbs > 0
    assert [row["name"] for row in chart["layers"]] == [ly.name for ly in layers]
    for row, ly in zip(chart["layers"], layers):
        assert abs(row["time"]["median"] - ly.median) <= 1e-9 * max(1.0, ly.median)
        assert row["bound"] == ly.bound
    script = re.search(r'src="([^"]*/vendor/chart\.js/chart\.umd\.min\.js)"', page.text)
    assert script, "the run page does not load the vendored Chart.js"
    assert requests.get(live_server.url + script.group(1), timeout=30).status_code == 200
