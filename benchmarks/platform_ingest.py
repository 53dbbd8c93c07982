"""Speed of the platform's write and read paths on PostgreSQL, against its goals.

    .venv/bin/python benchmarks/platform_ingest.py [--clients 4] [--bulk-seconds 20] [--worker]
        [--baseline-tree DIR]  # also time another checkout's server, side by side

The server runs as in production: gunicorn, PostgreSQL, and a real Celery broker
(--broker-url, default Redis db 9), so the post-commit tasks (series catalogue,
detection) are queued, not run in the request. Without --worker nothing consumes
them during the run (workers live on other hosts in production; here they would
take the same 2 cores); the queue is emptied afterwards. With --worker one
`celery worker` process consumes them while the clients post.

(a) API latency: one client POSTs 100-layer reports to /api/v1/runs/, one at a
    time. With --baseline-tree, a second server runs that checkout (e.g.
    `git archive HEAD | tar -x -C DIR`) on its own database, and the client
    alternates between the two, so both see the same load.
(b) bulk ingest: N clients (one machine each) POST for --bulk-seconds, first
    one report per request to /api/v1/runs/, then --batch-size reports per
    request to /api/v1/runs/batch/.
(c) the layer write alone in this process: COPY of preformatted text (what
    ingest does), COPY with psycopg's write_row per row, and bulk_create.
(d) series read: 2,000 layer series x 5,000 points (10M rows, written once with
    COPY and reused), then the newest 5,000 points of random series.

The databases (default roofwatch_bench) are created and migrated when missing
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


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


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


def server_env(url: str, broker_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "DB_CONN_MAX_AGE": "3600",  # persistent connections, so the CPU meter sees the same backends throughout
        "CELERY_BROKER_URL": broker_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only-not-secret"),
        "DEBUG": "0",
        "ROOFWATCH_HTTPS": "0",  # plain http on loopback: no redirect to https
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "roofwatch.settings",
        "LOG_LEVEL": "WARNING",
        "ROOFWATCH_DATA_DIR": str(REPO / "var" / "bench"),
    }


def setup_django(url: str, broker_url: str) -> dict[str, str]:
    """Point Django at `url`, migrate, and return the environment a server needs."""
    env = server_env(url, broker_url)
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


# --- servers and clients ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn serving the checkout at `tree` on database `url`."""

    def __init__(self, tree: Path, env: dict[str, str], workers: int) -> None:
        self.tree, self.env = tree, {**os.environ, **env, "PYTHONPATH": str(tree)}
        self.database = urlsplit(env["DATABASE_URL"]).path.lstrip("/")
        if tree != REPO:  # another checkout: migrate its own database with its own code
            subprocess.run([sys.executable, str(tree / "manage.py"), "migrate", "-v", "0"], cwd=tree, env=self.env,
                           check=True)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "roofwatch.wsgi", "--pythonpath", str(tree / "platform"),
             "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"],
            cwd=tree, env=self.env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn ({tree}) exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("gunicorn did not start listening within 60 s")

    def token(self, machine: str) -> str:
        """A fresh agent token for `machine`, made by this checkout's own command."""
        done = subprocess.run([sys.executable, str(self.tree / "manage.py"), "agent_token", machine], cwd=self.tree,
                              env=self.env, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Uploader:
    """Bodies with fresh idempotency keys, joined from the report's two halves
    (no search and replace over megabytes per request)."""

    def __init__(self, fingerprint: str) -> None:
        self.head, self.tail = report_body(fingerprint).split(KEY_PLACEHOLDER)

    def report(self) -> str:
        return f"{self.head}{uuid.uuid4()}{self.tail}"

    def batch(self, size: int) -> str:
        return '{"reports": [' + ", ".join(self.report() for _ in range(size)) + "]}"


def post(session, url: str, token: str, body: str, expect: int) -> float:
    """POST a body; returns its latency in seconds."""
    data = body.encode()
    start = time.perf_counter()
    response = session.post(url, data=data, headers={
        "Authorization": f"Token {token}", "Content-Type": "application/json",
    })
    elapsed = time.perf_counter() - start
    if response.status_code != expect:
        raise RuntimeError(f"POST {url} answered {response.status_code}: {response.text[:300]}")
    return elapsed


def api_latency(servers: dict[str, Server], posts: int) -> dict[str, dict[str, float]]:
    """p50/p95 of single POSTs, alternating between the servers so they share the load."""
    import requests

    clients = {}
    for label, server in servers.items():
        clients[label] = (server, server.token("bench-api"), Uploader("fp-bench-api"), requests.Session())
    latencies: dict[str, list[float]] = {label: [] for label in servers}
    meters = {label: CpuMeter(server) for label, server in servers.items()}
    for i in range(10 + posts):  # the first 10 of each warm the workers' connections and caches
        if i == 10:
            for meter in meters.values():
                meter.start()
        for label, (server, token, uploader, session) in clients.items():
            took = post(session, f"{server.base}/api/v1/runs/", token, uploader.report(), 201)
            if i >= 10:
                latencies[label].append(took)
    cpu = {label: meter.stop() for label, meter in meters.items()}
    for *_, session in clients.values():
        session.close()
    return {label: {"p50_ms": percentile(v, 50) * 1e3, "p95_ms": percentile(v, 95) * 1e3, "posts": posts,
                    "server_cpu_ms": cpu[label]["server"] / posts * 1e3,
                    "postgres_cpu_ms": cpu[label]["postgres"] / posts * 1e3}
            for label, v in latencies.items()}


def bulk_ingest(server: Server, clients: int, seconds: float, batch_size: int) -> dict[str, float]:
    """`clients` threads, each a machine of its own (an upload locks its machine
    row), posting until time is up: one report per request to /runs/ when
    batch_size is 1, else batches of batch_size to /runs/batch/."""
    import requests

    work = [(server.token(f"bench-bulk-{i}"), Uploader(f"fp-bench-bulk-{i}")) for i in range(clients)]
    counts = [0] * clients
    errors: list[Exception] = []
    start_line = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(i: int) -> None:
        token, uploader = work[i]
        with requests.Session() as session:
            start_line.wait()
            while not stop.is_set():
                try:
                    if batch_size == 1:
                        post(session, f"{server.base}/api/v1/runs/", token, uploader.report(), 201)
                    else:
                        body = uploader.batch(batch_size)
                        response = session.post(f"{server.base}/api/v1/runs/batch/", data=body.encode(), headers={
                            "Authorization": f"Token {token}", "Content-Type": "application/json"})
                        if response.status_code != 200 or response.json()["created"] != batch_size:
                            raise RuntimeError(f"batch answered {response.status_code}: {response.text[:300]}")
                except Exception as exc:  # reported after the run
                    errors.append(exc)
                    return
                counts[i] += batch_size

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    meter = CpuMeter(server)
    meter.start()
    start_line.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    cpu = meter.stop()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed; first: {errors[0]}")
    reports = sum(counts)
    rows = reports * LAYERS_PER_REPORT
    return {"reports": reports, "seconds": elapsed, "reports_per_s": reports / elapsed, "rows_per_s": rows / elapsed,
            **{f"cpu_us_per_row_{what}": used / rows * 1e6 for what, used in cpu.items()},
            # Rows per second if the server and PostgreSQL had every core to themselves (clients elsewhere).
            "rows_per_s_own_cores": os.cpu_count() * rows / (cpu["server"] + cpu["postgres"])}


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return found


class CpuMeter:
    """CPU used by the server's workers and by the PostgreSQL backends of the
    benchmark database between start() and stop(): what the ingest costs,
    whatever else the shared machine is running at the same time."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def _sample(self) -> dict[str, dict[int, float]]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                           [self.server.database])
            backends = [pid for (pid,) in cursor.fetchall()]
        return {"server": {pid: cpu_seconds(pid) for pid in children(self.server.proc.pid)},
                "postgres": {pid: cpu_seconds(pid) for pid in backends}}

    def start(self) -> None:
        self.before, self.client_before = self._sample(), time.process_time()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        used = {what: sum(cpu - self.before[what].get(pid, 0.0) for pid, cpu in pids.items())
                for what, pids in after.items()}
        used["client"] = time.process_time() - self.client_before
        return used


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "roofwatch", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        cwd=REPO / "platform", env={**os.environ, **env, "PYTHONPATH": str(REPO)},
    )


def queued_tasks(broker_url: str, purge: bool) -> int:
    """Tasks waiting in the broker's default queue; emptied when `purge`."""
    import redis

    client = redis.Redis.from_url(broker_url)
    waiting = client.llen("celery")
    if purge:
        client.delete("celery")
    return waiting


# --- (c) the layer write alone ---------------------------------------------------------------------------------


def layer_write_alone(repeat: int = 100) -> dict[str, float]:
    """rows/s of three ways to write 100 layers of one run, in this process."""
    from django.db import connection, transaction

    from fleet.models import Machine
    from results.ingest import ingest_report
    from results.layer_rows import COPY_SQL, copy_layer_text, copy_text, layer_rows
    from results.models import LayerMeasurement
    from results.serializers import validate_report

    machine, _ = Machine.objects.get_or_create(name="bench-write")
    report = json.loads(report_body("fp-bench-write"))
    report["idempotency_key"] = str(uuid.uuid4())
    run, _ = ingest_report(report, machine)
    layers = validate_report(report)["layers"]

    def write_row_per_row() -> None:
        head = (run.pk, run.machine_id, run.benchmark_id, run.started_at)
        with connection.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
            for layer in layers:
                t = layer["time"]
                copy.write_row(head + (
                    layer["name"], layer["op"], layer["index"], json.dumps(layer["sources"]), layer["flops"],
                    layer["bytes"], t["median"], t["p25"], t["p75"], t["min"], t["n"], layer["gflops"],
                    layer["gbs"], layer["ai"], layer["bound"]))

    writers = {
        "COPY of preformatted text (ingest)": lambda: copy_layer_text(copy_text(run, layers)),
        "COPY, write_row per row": write_row_per_row,
        "bulk_create": lambda: LayerMeasurement.objects.bulk_create(layer_rows(run, layers)),
    }
    took = dict.fromkeys(writers, 0.0)
    for _ in range(repeat):  # interleaved, so the load on the machine hits all three alike
        for label, write in writers.items():
            with transaction.atomic():
                LayerMeasurement.objects.filter(run=run).delete()
                start = time.perf_counter()
                write()
                took[label] += time.perf_counter() - start
    return {label: repeat * len(layers) / seconds for label, seconds in took.items()}


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


Row = tuple[str, str, str, bool | None]  # measure, measured, goal, met (None: no goal)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/roofwatch_bench")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/9",
                        help="Celery broker of the servers (default: Redis db 9, the benchmark's own)")
    parser.add_argument("--worker", action="store_true", help="run one Celery worker while the clients post")
    parser.add_argument("--posts", type=int, default=200, help="(a) sequential POSTs timed (per server)")
    parser.add_argument("--baseline-tree", type=Path, help="(a) another checkout to time side by side")
    parser.add_argument("--baseline-database-url", default="postgres://postgres@127.0.0.1:5432/roofwatch_bench_base")
    parser.add_argument("--clients", type=int, default=4, help="(b) concurrent clients, one machine each")
    parser.add_argument("--bulk-seconds", type=float, default=20.0, help="(b) how long the clients post, per endpoint")
    parser.add_argument("--batch-size", type=int, default=50, help="(b) reports per /runs/batch/ request")
    parser.add_argument("--series", type=int, default=2000, help="(d) layer series")
    parser.add_argument("--points", type=int, default=5000, help="(d) points per series")
    parser.add_argument("--queries", type=int, default=50, help="(d) series queries timed")
    parser.add_argument("--skip", choices=["api", "bulk", "copy", "series"], action="append", default=[])
    args = parser.parse_args()
    for url in (args.database_url, args.baseline_database_url):
        if urlsplit(url).scheme not in ("postgres", "postgresql"):
            parser.error("database URLs must be postgres:// URLs: the write path measured is PostgreSQL's COPY")
    return args


def http_rows(args: argparse.Namespace, env: dict[str, str]) -> list[Row]:
    """(a) and (b): the servers (and the worker) run only for these, and are stopped after."""
    worker = start_worker(env) if args.worker else None
    print(f"post-commit tasks go to {args.broker_url}; "
          + ("one Celery worker consumes them" if worker else "no worker consumes them during the run"))
    rows: list[Row] = []
    servers: dict[str, Server] = {}
    try:
        if "api" not in args.skip or "bulk" not in args.skip:
            servers["this tree"] = Server(REPO, env, workers=max(2, args.clients))
        if args.baseline_tree and "api" not in args.skip:
            ensure_database(args.baseline_database_url)
            servers["baseline"] = Server(args.baseline_tree.resolve(),
                                         server_env(args.baseline_database_url, args.broker_url), workers=2)
        if "api" not in args.skip:
            rows += api_rows(api_latency(servers, args.posts))
        if "bulk" not in args.skip:
            rows += bulk_rows(servers["this tree"], args)
    finally:
        for server in servers.values():
            server.stop()
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
    return rows


def api_rows(api: dict[str, dict[str, float]]) -> list[Row]:
    for label, figures in api.items():
        print(f"(a) {label}: {figures['posts']} POSTs: p50 {figures['p50_ms']:.1f} ms, "
              f"p95 {figures['p95_ms']:.1f} ms", flush=True)
    ours = api["this tree"]
    rows: list[Row] = [
        ("API POST /runs/, 100 layers, p50", f"{ours['p50_ms']:.1f} ms",
         f"<= {GOALS['api_p50_ms']:.0f} ms", ours["p50_ms"] <= GOALS["api_p50_ms"]),
        ("API POST /runs/, 100 layers, p95", f"{ours['p95_ms']:.1f} ms", "", None),
        ("  CPU per POST: server / PostgreSQL",
         f"{ours['server_cpu_ms']:.1f} / {ours['postgres_cpu_ms']:.1f} ms", "", None),
    ]
    if "baseline" in api:
        base = api["baseline"]
        for stat in ("p50", "p95"):
            rows.append((f"  baseline tree, same client, {stat}", f"{base[f'{stat}_ms']:.1f} ms",
                         f"{base[f'{stat}_ms'] / ours[f'{stat}_ms']:.2f}x ours", None))
        rows.append(("  baseline CPU per POST: server / PostgreSQL",
                     f"{base['server_cpu_ms']:.1f} / {base['postgres_cpu_ms']:.1f} ms",
                     f"{base['server_cpu_ms'] / ours['server_cpu_ms']:.2f}x ours (server)", None))
    return rows


def bulk_rows(server: Server, args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    for size in (1, args.batch_size):
        endpoint = "/runs/" if size == 1 else f"/runs/batch/ ({size}/request)"
        bulk = bulk_ingest(server, args.clients, args.bulk_seconds, size)
        print(f"(b) {endpoint}, {args.clients} clients: {bulk['reports']} reports in "
              f"{bulk['seconds']:.1f} s", flush=True)
        rows.append((f"bulk HTTP {endpoint}, {args.clients} clients", f"{bulk['rows_per_s']:,.0f} rows/s",
                     f">= {GOALS['rows_per_s']:,.0f} rows/s", bulk["rows_per_s"] >= GOALS["rows_per_s"]))
        rows.append((f"  ({bulk['reports_per_s']:.1f} reports/s)", "", "", None))
        for what in ("server", "postgres", "client"):
            rows.append((f"  CPU per layer row: {what}", f"{bulk[f'cpu_us_per_row_{what}']:.1f} us", "", None))
        rows.append((f"  rows/s with the {os.cpu_count()} cores to server+PG",
                     f"{bulk['rows_per_s_own_cores']:,.0f} rows/s", "(from CPU used)", None))
    return rows


def copy_rows() -> list[Row]:
    write = layer_write_alone()
    slowest = min(write.values())
    return [(f"layer write alone: {label}", f"{rate:,.0f} rows/s", f"{rate / slowest:.1f}x", None)
            for label, rate in write.items()]


def series_rows(args: argparse.Namespace) -> list[Row]:
    benchmark_id, written, load_s = ensure_series_rows(args.series, args.points)
    print(f"(d) {args.series * args.points:,} series rows ready ({load_s:.0f} s)", flush=True)
    rows: list[Row] = []
    if written:
        rows.append((f"COPY load of {written:,} series rows", f"{written / load_s:,.0f} rows/s",
                     "(incl. VACUUM ANALYZE)", None))
    for how, reads in series_reads(benchmark_id, args.series, args.points, args.queries).items():
        rows.append((f"series read, {args.points} points, via {how}", "", "", None))
        rows.append(("  p50", f"{reads['p50_ms']:.1f} ms", "", None))
        rows.append(("  p95", f"{reads['p95_ms']:.1f} ms", f"<= {GOALS['series_p95_ms']:.0f} ms",
                     reads["p95_ms"] <= GOALS["series_p95_ms"]))
    return rows


def print_table(rows: list[Row]) -> None:
    print(f"{'measure':<52} {'measured':>16} {'goal':>20}  met")
    for name, value, goal, met in rows:
        print(f"{name:<52} {value:>16} {goal:>20}  {'' if met is None else ('yes' if met else 'NO')}")


def main() -> None:
    args = parse_args()
    print(f"start: {load_average()}")
    created = ensure_database(args.database_url)
    print(f"database {urlsplit(args.database_url).path.lstrip('/')}: {'created' if created else 'reused'}")
    env = setup_django(args.database_url, args.broker_url)
    queued_tasks(args.broker_url, purge=True)  # leftovers of an interrupted run
    rows = http_rows(args, env)
    waiting = queued_tasks(args.broker_url, purge=True)
    print(f"tasks left in the queue: {waiting} (emptied)")
    if "copy" not in args.skip:
        rows += copy_rows()
    if "series" not in args.skip:
        rows += series_rows(args)
    print(f"end: {load_average()}")
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
