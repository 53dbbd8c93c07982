"""Speed of the platform's write and read paths on PostgreSQL, against its goals.

    .venv/bin/python benchmarks/platform_ingest.py [--database-url URL] [--clients 4] [--bulk-seconds 20]

(a) API latency: one client POSTs 100-layer reports to a live gunicorn, one at a time.
(b) bulk ingest: N clients (one machine each) POST 100-layer reports for a while;
    beside it, the layer write alone (COPY vs bulk_create) in this process.
(c) series read: 2,000 layer series x 5,000 points (10M rows, written once with
    COPY and reused), then the newest 5,000 points of random series.

The database (default roofwatch_bench) is created and migrated when missing
and kept for the next run; nothing is dropped. Timings are printed, never asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "platform")]

LAYERS_PER_REPORT = 100
KEY_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"
GOALS = {"api_p50_ms": 20.0, "rows_per_s": 100_000.0, "series_p95_ms": 100.0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --- database --------------------------------------------------------------------------------------------------


def ensure_database(url: str) -> bool:
    """Create the database named in `url` if missing; returns whether it was created."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def setup_django(url: str) -> dict[str, str]:
    """Point Django at `url`, migrate, and return the environment a server needs."""
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only-not-secret"),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "roofwatch.settings",
        "LOG_LEVEL": "WARNING",
        "ROOFWATCH_DATA_DIR": str(REPO / "var" / "bench"),
    }
    (REPO / "var" / "bench" / "static").mkdir(parents=True, exist_ok=True)  # whitenoise warns without it
    os.environ.update(env)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return env


def machine_with_token(name: str) -> str:
    from fleet.models import Machine

    machine, _ = Machine.objects.get_or_create(name=name)
    return machine.rotate_token()


def report_body(fingerprint: str) -> str:
    """A 100-layer report as JSON with KEY_PLACEHOLDER where each upload puts a fresh key."""
    from tests.report_factory import make_report

    report = make_report(fingerprint=fingerprint, model="bench-mlp", layers=LAYERS_PER_REPORT)
    report["idempotency_key"] = KEY_PLACEHOLDER
    return json.dumps(report)


# --- (a) and (b): HTTP against gunicorn ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "roofwatch.wsgi", "--pythonpath", str(REPO / "platform"),
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"],
        cwd=REPO, env={**os.environ, **env, "PYTHONPATH": str(REPO)},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start listening within 60 s")


def post(session, base: str, token: str, body: str) -> float:
    """POST one report with a fresh key; returns its latency in seconds."""
    data = body.replace(KEY_PLACEHOLDER, str(uuid.uuid4())).encode()
    start = time.perf_counter()
    response = session.post(f"{base}/api/v1/runs/", data=data, headers={
        "Authorization": f"Token {token}", "Content-Type": "application/json",
    })
    elapsed = time.perf_counter() - start
    if response.status_code != 201:
        raise RuntimeError(f"POST /api/v1/runs/ answered {response.status_code}: {response.text[:300]}")
    return elapsed


def api_latency(base: str, posts: int) -> dict[str, float]:
    import requests

    token = machine_with_token("bench-api")
    body = report_body("fp-bench-api")
    with requests.Session() as session:
        for _ in range(10):  # warm the workers' connections and caches
            post(session, base, token, body)
        latencies = [post(session, base, token, body) for _ in range(posts)]
    return {"p50_ms": percentile(latencies, 50) * 1e3, "p95_ms": percentile(latencies, 95) * 1e3, "posts": posts}


def bulk_ingest(base: str, clients: int, seconds: float) -> dict[str, float]:
    """`clients` threads, each a machine of its own (an upload locks its machine row), posting until time is up."""
    import requests

    work = [(machine_with_token(f"bench-bulk-{i}"), report_body(f"fp-bench-bulk-{i}")) for i in range(clients)]
    counts = [0] * clients
    errors: list[Exception] = []
    start_line = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(i: int) -> None:
        token, body = work[i]
        with requests.Session() as session:
            start_line.wait()
            while not stop.is_set():
                try:
                    post(session, base, token, body)
                except Exception as exc:  # reported after the run
                    errors.append(exc)
                    return
                counts[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start_line.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed; first: {errors[0]}")
    reports = sum(counts)
    return {"reports": reports, "seconds": elapsed, "reports_per_s": reports / elapsed,
            "rows_per_s": reports * LAYERS_PER_REPORT / elapsed}


def layer_write_alone(repeat: int = 100) -> dict[str, float]:
    """rows/s of write_layer_rows' COPY against bulk_create, 100 layers per run, in this process."""
    from django.db import transaction

    from fleet.models import Machine
    from results.ingest import ingest_report
    from results.layer_rows import copy_layer_rows, copy_tuples, layer_rows
    from results.models import LayerMeasurement

    machine, _ = Machine.objects.get_or_create(name="bench-write")
    report = json.loads(report_body("fp-bench-write"))
    report["idempotency_key"] = str(uuid.uuid4())
    run, _ = ingest_report(report, machine)
    layers = report["layers"]
    rates = {}
    writers = {
        "copy": lambda: copy_layer_rows(copy_tuples(run, layers)),
        "bulk_create": lambda: LayerMeasurement.objects.bulk_create(layer_rows(run, layers)),
    }
    for label, write in writers.items():
        took = 0.0
        for _ in range(repeat):
            with transaction.atomic():
                LayerMeasurement.objects.filter(run=run).delete()
                start = time.perf_counter()
                write()
                took += time.perf_counter() - start
        rates[label] = repeat * len(layers) / took
    return rates


# --- (c) series ------------------------------------------------------------------------------------------------


def ensure_series_rows(series: int, points: int) -> tuple[int, int, float]:
    """`points` runs of one benchmark, `series` layers each, written with COPY;
    runs already filled are kept, so an interrupted load resumes.
    Returns (benchmark id, layer rows written now, seconds spent)."""
    import numpy as np
    from django.db import connection, transaction
    from django.db.models import Exists, OuterRef

    from fleet.models import Machine
    from results.canonical import canonical_sha256
    from results.layer_rows import COPY_SQL, COPY_COLUMNS
    from results.models import Benchmark, LayerMeasurement, Project, Run

    began = time.perf_counter()
    machine, _ = Machine.objects.get_or_create(name="bench-series")
    project, _ = Project.objects.get_or_create(name="bench", defaults={"repository_url": "bench"})
    params = {"layers": series, "points": points}
    benchmark, _ = Benchmark.objects.get_or_create(
        project=project, model="series-mlp", params_hash=canonical_sha256(params), defaults={"params": params}
    )
    have = Run.objects.filter(machine=machine, benchmark=benchmark).count()
    t0 = datetime(2020, 1, 1, tzinfo=timezone.utc)
    if have < points:
        Run.objects.bulk_create([
            Run(idempotency_key=uuid.uuid4(), payload_sha256="0" * 64, machine=machine, benchmark=benchmark,
                model_version="v1", config={}, config_hash="0" * 64, commit=f"{i:040x}",
                started_at=t0 + timedelta(hours=i), warmup=0, repeats=10, median=0.01, p25=0.0099, p75=0.0102,
                min=0.0098, n=10, peak_gflops=180.0, peak_gbs=23.0)
            for i in range(have, points)
        ], batch_size=1000)
    has_layers = Exists(LayerMeasurement.objects.filter(run=OuterRef("pk")))
    empty = list(
        Run.objects.filter(machine=machine, benchmark=benchmark).filter(~has_layers)
        .order_by("id").values_list("id", "started_at")
    )
    if not empty:
        return benchmark.pk, 0, time.perf_counter() - began
    print(f"  writing {len(empty) * series:,} layer rows with COPY ({len(empty)} runs x {series} layers) ...",
          flush=True)
    # Per layer, a template with the run's fields and the time left open, in COPY_COLUMNS order.
    fixed = {"machine_id": str(machine.pk), "benchmark_id": str(benchmark.pk), "op": "Linear", "n": "10",
             "flops": "33554432", "bytes": "1050624", "gflops": "{gflops}", "gbs": "{gbs}", "ai": "31.94",
             "bound": "compute", "run_id": "{run}", "started_at": "{at}", "median": "{median}",
             "p25": "{p25}", "p75": "{p75}", "min": "{min}"}
    templates = []
    for k in range(series):
        values = {**fixed, "name": f"layer{k}", "index": str(k), "sources": json.dumps([f"layer{k}"])}
        templates.append("\t".join(values[c] for c in COPY_COLUMNS) + "\n")
    rng = np.random.default_rng(0)
    base = 1e-4 * (1 + np.arange(series) % 17)
    done = 0
    for chunk in range(0, len(empty), 50):
        with transaction.atomic(), connection.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
            for run_id, at in empty[chunk:chunk + 50]:
                medians = base * rng.normal(1.0, 0.02, series)
                stamp = at.isoformat()
                copy.write("".join(
                    t.format(run=run_id, at=stamp, median=m, p25=m * 0.98, p75=m * 1.03, min=m * 0.97,
                             gflops=0.033554432 / m, gbs=0.001050624 / m)
                    for t, m in zip(templates, medians.tolist())
                ))
        done += len(empty[chunk:chunk + 50])
        if done % 500 == 0:
            print(f"  {done}/{len(empty)} runs, {time.perf_counter() - began:.0f} s", flush=True)
    with connection.cursor() as cursor:
        for model in (Run, LayerMeasurement):  # fresh statistics, or the planner guesses the run join badly
            cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
    return benchmark.pk, len(empty) * series, time.perf_counter() - began


def series_reads(benchmark_id: int, series: int, points: int, queries: int) -> dict[str, dict[str, float]]:
    """p50/p95 ms of reading the newest `points` points of random series: through
    results.series.series_points (the API's query, with each point's run fields)
    when it exists, and as the bare ORM query on the layer_series index."""
    import random

    from results.models import LayerMeasurement

    machine_name = "bench-series"
    readers = {}
    try:
        from results.series import PointsQuery, series_points
    except ImportError:
        pass
    else:
        query = PointsQuery(metric="median", since=None, until=None, limit=points)
        readers["results.series.series_points"] = lambda layer: len(
            series_points(machine_name, benchmark_id, layer, query)["points"]
        )
    readers["bare ORM query on layer_series"] = lambda layer: len(list(
        LayerMeasurement.objects.filter(machine__name=machine_name, benchmark_id=benchmark_id, name=layer)
        .order_by("-started_at").values_list("started_at", "median", "p25", "p75")[:points]
    ))
    figures = {}
    for how, read in readers.items():
        rnd = random.Random(1)
        for _ in range(3):
            read(f"layer{rnd.randrange(series)}")
        latencies = []
        for _ in range(queries):
            start = time.perf_counter()
            got = read(f"layer{rnd.randrange(series)}")
            latencies.append(time.perf_counter() - start)
            if got != points:
                raise RuntimeError(f"a series query ({how}) returned {got} points, expected {points}")
        figures[how] = {"p50_ms": percentile(latencies, 50) * 1e3, "p95_ms": percentile(latencies, 95) * 1e3}
    return figures


# --- main ------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/roofwatch_bench")
    parser.add_argument("--posts", type=int, default=200, help="(a) sequential POSTs timed")
    parser.add_argument("--clients", type=int, default=4, help="(b) concurrent clients, one machine each")
    parser.add_argument("--bulk-seconds", type=float, default=20.0, help="(b) how long the clients post")
    parser.add_argument("--series", type=int, default=2000, help="(c) layer series")
    parser.add_argument("--points", type=int, default=5000, help="(c) points per series")
    parser.add_argument("--queries", type=int, default=50, help="(c) series queries timed")
    parser.add_argument("--skip", choices=["api", "bulk", "series"], action="append", default=[])
    args = parser.parse_args()
    if urlsplit(args.database_url).scheme not in ("postgres", "postgresql"):
        parser.error("--database-url must be a postgres:// URL: the write path measured is PostgreSQL's COPY")

    created = ensure_database(args.database_url)
    print(f"database {urlsplit(args.database_url).path.lstrip('/')}: {'created' if created else 'reused'}")
    env = setup_django(args.database_url)
    from results.signals import run_ingested

    print(f"run_ingested receivers: {len(run_ingested.receivers)} (Celery eager: no broker configured)"
          if not os.environ.get("CELERY_BROKER_URL") else "run_ingested receivers queue to the broker")
    rows = []
    if not {"api", "bulk"} <= set(args.skip):
        proc, base = start_server(env, workers=max(2, args.clients))
        try:
            if "api" not in args.skip:
                api = api_latency(base, args.posts)
                print(f"(a) {api['posts']} POSTs: p50 {api['p50_ms']:.1f} ms, p95 {api['p95_ms']:.1f} ms", flush=True)
                rows.append(("API POST, 100 layers, p50", f"{api['p50_ms']:.1f} ms",
                             f"<= {GOALS['api_p50_ms']:.0f} ms", api["p50_ms"] <= GOALS["api_p50_ms"]))
                rows.append(("API POST, 100 layers, p95", f"{api['p95_ms']:.1f} ms", "", None))
            if "bulk" not in args.skip:
                bulk = bulk_ingest(base, args.clients, args.bulk_seconds)
                print(f"(b) {args.clients} clients: {bulk['reports']} reports in {bulk['seconds']:.1f} s", flush=True)
                rows.append((f"bulk HTTP ingest, {args.clients} clients", f"{bulk['rows_per_s']:,.0f} rows/s",
                             f">= {GOALS['rows_per_s']:,.0f} rows/s", bulk["rows_per_s"] >= GOALS["rows_per_s"]))
                rows.append((f"  ({bulk['reports_per_s']:.1f} reports/s)", "", "", None))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        if "bulk" not in args.skip:
            write = layer_write_alone()
            rows.append(("layer write alone: COPY", f"{write['copy']:,.0f} rows/s", "", None))
            rows.append(("layer write alone: bulk_create", f"{write['bulk_create']:,.0f} rows/s",
                         f"COPY {write['copy'] / write['bulk_create']:.1f}x", None))
    if "series" not in args.skip:
        benchmark_id, written, load_s = ensure_series_rows(args.series, args.points)
        print(f"(c) {args.series * args.points:,} series rows ready ({load_s:.0f} s)", flush=True)
        if written:
            rows.append((f"COPY load of {written:,} series rows", f"{written / load_s:,.0f} rows/s",
                         "(incl. VACUUM ANALYZE)", None))
        for how, reads in series_reads(benchmark_id, args.series, args.points, args.queries).items():
            rows.append((f"series read, {args.points} points, via {how}", "", "", None))
            rows.append(("  p50", f"{reads['p50_ms']:.1f} ms", "", None))
            rows.append(("  p95", f"{reads['p95_ms']:.1f} ms", f"<= {GOALS['series_p95_ms']:.0f} ms",
                         reads["p95_ms"] <= GOALS["series_p95_ms"]))

    print()
    print(f"{'measure':<44} {'measured':>16} {'goal':>20}  met")
    for name, value, goal, met in rows:
        print(f"{name:<44} {value:>16} {goal:>20}  {'' if met is None else ('yes' if met else 'NO')}")


if __name__ == "__main__":
    main()
