"""Speed of the dashboard's data paths on PostgreSQL, and of the series page in
headless chromium, against issue 9's goals. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/dashboard_speed.py [--database-url URL] [--repeats 40]

(a) series endpoint, 5,000 points: GET /api/v1/series/<machine>/<benchmark>/<layer>/?limit=5000
    and the page's own /dash-api/series/ (default decimation to 1,500, and
    max_points=5000, i.e. no decimation);
(b) run-detail endpoint, 300 layers: GET /api/v1/runs/<id>/ and the HTML run page /runs/<id>/
    (plus the compare page's /dash-api/compare/ of that run with itself, and /dash-api/sparklines/);
(c) the series page with 5,000 points in headless chromium (Debian's
    /usr/bin/chromium through Playwright): time from navigation start until
    the chart is drawn and painted (performance.now() in the page after the
    next animation frame), with and without server decimation; and the run
    page of the 300-layer run, whose charts load it from /api/v1/runs/<id>/.

Requests go over HTTP to a threaded WSGI server in this process (Django's
own, as `manage.py demo` uses), one at a time; p50/p95 of --repeats requests
after 3 warm-ups. The data (one machine, 5,000 runs of a 4-layer benchmark,
one 300-layer run) is written once with bulk_create into the scratch database
(default roofwatch_dash_bench, created and migrated when missing) and reused.
Settings are tests.settings (the real settings, static files served from the
app folders) with DEBUG off. The machine is shared and has 2 cores: timings
are noisy; run it twice and compare.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "platform")]

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/roofwatch_dash_bench"
SERIES_POINTS, WIDE_LAYERS = 5000, 300
MACHINE, SERIES_MODEL, WIDE_MODEL, LAYER = "dash-bench-1", "mlp-dash-bench", "wide-dash-bench", "fc1"
GOALS_MS = {"endpoint_p95": 100.0, "page_render": 1000.0}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if name in ("test", "roofwatch_bench"):
        raise SystemExit(f"--database-url: {name!r} belongs to others; use a scratch database")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def layer_row(run, index: int, name: str, op: str, flops: int, nbytes: int, median: float):
    from results.models import LayerMeasurement

    return LayerMeasurement(
        run=run, machine_id=run.machine_id, benchmark_id=run.benchmark_id, started_at=run.started_at, name=name,
        op=op, index=index, sources=[name], flops=flops, bytes=nbytes, median=median, p25=median * 0.97,
        p75=median * 1.04, min=median * 0.95, n=20, gflops=flops / median / 1e9, gbs=nbytes / median / 1e9,
        ai=flops / nbytes, bound="compute" if flops / nbytes >= 180 / 23 else "bandwidth",
    )


def new_run(machine, benchmark, i: int, median: float, start: datetime):
    from results.models import Run

    return Run(
        idempotency_key=uuid.uuid4(), payload_sha256="0" * 64, machine=machine, benchmark=benchmark,
        model_version="benchv1", config={"passes": ["fold"], "quant": "none", "threads": 2, "flags": {}},
        config_hash="b" * 64, commit=f"{i:040x}", branch="main", started_at=start + timedelta(minutes=10 * i),
        warmup=3, repeats=20, median=median, p25=median * 0.97, p75=median * 1.04, min=median * 0.95, n=20,
        peak_gflops=180.0, peak_gbs=23.0, catalogued=True,
    )


def ensure_data() -> tuple[int, int]:
    """(benchmark id of the 5,000-point series, id of the 300-layer run), written once."""
    import numpy as np
    from django.db import transaction

    from fleet.models import Machine
    from results.canonical import canonical_sha256
    from results.catalogue import refresh_all_series
    from results.models import Benchmark, LayerMeasurement, Project, Run

    machine, _ = Machine.objects.get_or_create(name=MACHINE, defaults={"peak_gflops": 180.0, "peak_gbs": 23.0})
    project, _ = Project.objects.get_or_create(name="dash-bench", defaults={"repository_url": "https://example.com/b"})

    def benchmark(model):
        params = {"batch_size": 64}
        return Benchmark.objects.get_or_create(project=project, model=model, params_hash=canonical_sha256(params),
                                               defaults={"params": params})[0]

    series_bm, wide_bm = benchmark(SERIES_MODEL), benchmark(WIDE_MODEL)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    if Run.objects.filter(benchmark=series_bm).count() != SERIES_POINTS:
        print(f"writing {SERIES_POINTS} runs of {SERIES_MODEL} ...", flush=True)
        rng = np.random.default_rng(0)
        with transaction.atomic():
            Run.objects.filter(benchmark=series_bm).delete()
            runs = Run.objects.bulk_create(
                [new_run(machine, series_bm, i, 4e-4 * (1 + rng.normal(0, 0.01)), start) for i in range(SERIES_POINTS)]
            )
            layers = []
            for i, run in enumerate(runs):
                slow = 3.0 if i >= 4000 else 1.0  # a real step for the chart to show
                for index, (name, op, flops, nbytes, t) in enumerate([
                    ("fc0", "Linear", 16_777_216, 722_944, 1.8e-4), ("relu0", "Relu", 16_384, 131_072, 1.1e-5),
                    (LAYER, "Linear", 8_388_608, 394_240, 9.0e-5 * slow), ("relu1", "Relu", 16_384, 131_072, 1.1e-5),
                ]):
                    layers.append(layer_row(run, index, name, op, flops, nbytes, t * (1 + rng.normal(0, 0.01))))
            LayerMeasurement.objects.bulk_create(layers, batch_size=5000)
    wide = Run.objects.filter(benchmark=wide_bm).first()
    if wide is None or wide.layers.count() != WIDE_LAYERS:
        print(f"writing one {WIDE_LAYERS}-layer run ...", flush=True)
        with transaction.atomic():
            Run.objects.filter(benchmark=wide_bm).delete()
            wide = Run.objects.bulk_create([new_run(machine, wide_bm, 0, 0.05, start)])[0]
            LayerMeasurement.objects.bulk_create([
                layer_row(wide, i, f"block{i // 3}.{('fc', 'relu', 'norm')[i % 3]}", ("Linear", "Relu", "LayerNorm")[i % 3],
                          2_000_000 * (1 + i % 7), 300_000 * (1 + i % 5), 1e-4 * (1 + i % 11))
                for i in range(WIDE_LAYERS)
            ])
    refresh_all_series()
    from django.db import connection

    with connection.cursor() as cursor:  # planner statistics, as autovacuum would gather after a bulk load
        cursor.execute("ANALYZE results_run, results_layermeasurement, results_series")
    return series_bm.pk, wide.pk


def start_server():
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, get_internal_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
    server.set_app(get_internal_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def time_get(url: str, repeats: int) -> tuple[float, float, int]:
    """p50 and p95 in ms of GET url, and the response size."""
    size = 0
    for _ in range(3):
        with urllib.request.urlopen(url) as response:
            size = len(response.read())
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        with urllib.request.urlopen(url) as response:
            response.read()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), percentile(times, 95), size


def browser_figures(base: str, benchmark_id: int, wide_run: int, repeats: int) -> tuple[list, list[float]]:
    """The series page figures (label, to-painted ms, fetch+draw ms, points drawn) and the run page's to-painted ms."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("(c) skipped: playwright is not installed")
        return [], []
    if not Path(CHROMIUM).exists():
        print(f"(c) skipped: no chromium at {CHROMIUM}")
        return [], []
    results = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        for label, extra in (("decimated to 1,500 (default)", ""), ("all 5,000 points", "&max_points=5000")):
            url = f"{base}/series/?benchmark={benchmark_id}&layer={LAYER}{extra}"
            totals, draws, shown = [], [], 0
            for i in range(repeats + 1):
                page.goto(url)
                page.wait_for_selector("body[data-series-ready]", state="attached", timeout=30_000)
                ready = page.evaluate("() => window.rwSeriesReady")
                shown = page.evaluate("() => Chart.getChart(document.getElementById('series-chart'))"
                                      ".data.datasets.filter(d => d.rwRole === 'value')[0].data.length")
                if i:  # the first load warms the caches
                    totals.append(ready["at"])  # ms since navigation start
                    draws.append(ready["fetchAndDrawMs"])
            results.append((label, totals, draws, shown))
        run_page = []
        for i in range(repeats + 1):
            page.goto(f"{base}/runs/{wide_run}/")
            page.wait_for_selector("body[data-run-ready]", state="attached", timeout=30_000)
            bars = page.evaluate("() => Chart.getChart(document.getElementById('layer-chart')).data.labels.length")
            assert bars == 16, f"run page: expected the top 15 layers + rest, got {bars} bars"
            if i:
                run_page.append(page.evaluate("() => window.rwReadyAt.run"))
        browser.close()
    return results, run_page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--page-repeats", type=int, default=7)
    args = parser.parse_args()
    ensure_database(args.database_url)
    setup_django(args.database_url)
    benchmark_id, wide_run = ensure_data()
    server, base = start_server()
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores; "
          f"{args.repeats} requests each after 3 warm-ups, one at a time over HTTP")
    print(f"\n{'endpoint':<64} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>10}")
    rows = [
        ("(a) /api/v1/series/ 5,000 points", f"/api/v1/series/{quote(MACHINE)}/{benchmark_id}/{LAYER}/?limit=5000"),
        ("(a) /dash-api/series/ 5,000 -> 1,500 (LTTB)", f"/dash-api/series/?benchmark={benchmark_id}&layer={LAYER}"),
        ("(a) /dash-api/series/ 5,000, max_points=5000",
         f"/dash-api/series/?benchmark={benchmark_id}&layer={LAYER}&max_points=5000"),
        ("(b) /api/v1/runs/<id>/ 300 layers", f"/api/v1/runs/{wide_run}/"),
        ("(b) /runs/<id>/ page, 300 layers", f"/runs/{wide_run}/"),
        ("(b) /dash-api/compare/ 300 layers (the run with itself)", f"/dash-api/compare/?before={wide_run}&after={wide_run}"),
        ("(b) /dash-api/sparklines/ (the overview's trends)", "/dash-api/sparklines/"),
    ]
    for label, path in rows:
        p50, p95, size = time_get(base + path, args.repeats)
        flag = "" if p95 <= GOALS_MS["endpoint_p95"] else "  over the 100 ms goal"
        print(f"{label:<64} {p50:>8.1f} {p95:>8.1f} {size:>10,}{flag}")
    figures, run_page = browser_figures(base, benchmark_id, wide_run, args.page_repeats)
    if figures:
        print(f"\n(c) series page in headless chromium, {args.page_repeats} loads each after one warm-up "
              "(navigation start -> chart painted; of that, data fetch + chart build + paint)")
        for label, totals, draws, shown in figures:
            print(f"    {label:<30} points drawn {shown:>5}  to painted: median {statistics.median(totals):7.1f} ms,"
                  f" max {max(totals):7.1f} ms;  fetch+draw median {statistics.median(draws):7.1f} ms")
    if run_page:
        print(f"    run page, {WIDE_LAYERS} layers (charts from /api/v1/runs/<id>/): to painted: median "
              f"{statistics.median(run_page):7.1f} ms, max {max(run_page):7.1f} ms")
    server.shutdown()


if __name__ == "__main__":
    main()
