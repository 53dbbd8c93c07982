"""Speed of the platform's write and read paths on PostgreSQL, against its goals,
on a layer table of --rows rows built for the run and dropped after it.

    .venv/bin/python benchmarks/platform_ingest.py [--rows 10000000] [--points 5000]
        [--clients 4] [--workers 2] [--bulk-seconds 20] [--worker] [--keep | --reuse] [--drop-leftovers]
        [--baseline-tree DIR]  # also time another checkout's server, side by side

The run creates its database (default roofwatch_bench), migrates it, builds the
data, measures, and drops the database at the end, also after an error, Ctrl-C or
SIGTERM, printing its size first. --keep leaves it (and says how big it is) so a
later run can measure on it again with --reuse (no build). --drop-leftovers first
drops the roofwatch_bench* databases earlier runs left (those in use are named and
left alone); without it they are listed.

The data: --rows layer rows of many machines x benchmarks (10 models of 50-150
layers) x runs, --points runs per machine and benchmark spread over the last year
(so every monthly partition of a partitioned layer table gets rows; months it lacks
are created, named table_pYYYY_MM), with the runs' Run rows and the series
catalogue. Rows are generated inside PostgreSQL (INSERT ... SELECT over
generate_series: no Python per row); the layer table's keys, indexes and foreign
keys are dropped for the load and put back from their own catalogue definitions.

The server runs as in production: gunicorn, PostgreSQL, and a real Celery broker
(--broker-url, default Redis db 9), so the post-commit tasks (series catalogue,
detection) are queued, not run in the request. Without --worker nothing consumes
them during the run (workers live on other hosts in production; here they would
take the same 2 cores); the queue is emptied afterwards. With --worker one
`celery worker` process consumes them while the clients post.

(a) API latency: one client POSTs 100-layer reports to /api/v1/runs/, one at a
    time. With --baseline-tree, a second server runs that checkout (e.g.
    `git archive HEAD | tar -x -C DIR`) on its own database (created and dropped
    like the first), and the client alternates between the two, so both see the
    same load.
(b) bulk ingest: N clients (one machine each) POST for --bulk-seconds to
    --workers gunicorn workers, first one report per request to /api/v1/runs/,
    then --batch-size reports per request to /api/v1/runs/batch/; with the CPU
    the web workers and PostgreSQL spent per layer row.
(d) series read: the newest --points points of random layer series of the built
    table, measured first (before the clients add to it).

Each figure is printed with the load average when it was taken. Timings are
printed, never asserted.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "platform")]

LAYERS_PER_REPORT = 100
KEY_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"
GOALS = {"api_p50_ms": 15.0, "rows_per_s": 100_000.0, "web_cpu_us_per_row": 10.0, "series_p95_ms": 100.0}
LEFTOVER_PREFIX = "roofwatch_bench"  # the databases --drop-leftovers may drop


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def load_now() -> str:
    """The 1- and 5-minute load averages, printed beside each figure."""
    one, five, _ = os.getloadavg()
    return f"{one:.2f} / {five:.2f}"


def size_text(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


# --- databases -------------------------------------------------------------------------------------------------


def admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def ensure_database(url: str) -> bool:
    """Create the database named in `url` if missing; returns whether it was created.
    (The agent benchmarks keep theirs; this one's run goes through BenchDatabases.)"""
    import psycopg
    from psycopg import sql

    name = database_name(url)
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def database_sizes(url: str, prefix: str) -> dict[str, int]:
    """{name: bytes} of the databases whose name starts with `prefix`."""
    import psycopg

    like = prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        rows = conn.execute("SELECT datname, pg_database_size(datname) FROM pg_database WHERE datname LIKE %s "
                            "ORDER BY datname", [like]).fetchall()
    return dict(rows)


def drop_database(url: str, name: str, force: bool) -> int:
    """Drop database `name`; returns its size just before. Without `force` a database
    someone is connected to is left (psycopg.errors.ObjectInUse)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(datname) FROM pg_database WHERE datname = %s", [name]).fetchone()
        if row is None:
            return 0
        conn.execute(sql.SQL("DROP DATABASE {}" + (" WITH (FORCE)" if force else "")).format(sql.Identifier(name)))
        return row[0]


def drop_leftovers(url: str, prefix: str = LEFTOVER_PREFIX) -> list[str]:
    """Drop the `prefix`* databases earlier runs left, printing each one's size; a
    database in use (a run going on now) is named and left. Returns those dropped."""
    import psycopg

    dropped = []
    for name, size in database_sizes(url, prefix).items():
        try:
            drop_database(url, name, force=False)
        except psycopg.errors.ObjectInUse:
            print(f"leftover database {name} ({size_text(size)}) is in use: left", flush=True)
            continue
        print(f"dropped leftover database {name} ({size_text(size)})", flush=True)
        dropped.append(name)
    return dropped


class BenchDatabases:
    """The databases this run creates: created on demand, and dropped by close()
    (size printed first) unless `keep`, which says which are left and how big."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.created: list[str] = []  # urls
        self.reused: list[str] = []  # urls of databases an earlier run kept: kept again

    def reuse(self, url: str) -> None:
        if ensure_database(url):
            self.created.append(url)  # there was none: this empty one is ours to drop
            raise SystemExit(f"--reuse: there is no database {database_name(url)} to measure on")
        self.reused.append(url)

    def create(self, url: str) -> None:
        """Create `url`'s database; one that exists already is an error naming it."""
        if not ensure_database(url):
            size = database_sizes(url, database_name(url)).get(database_name(url), 0)
            raise SystemExit(f"database {database_name(url)} exists already ({size_text(size)}), left by an earlier "
                             f"run: --drop-leftovers drops it, --reuse measures on it")
        self.created.append(url)

    def close(self) -> None:
        if self.created:
            from django.db import connections

            connections.close_all()  # the drop must not wait for this process' own sessions
        for url in self.created + self.reused:
            name = database_name(url)
            if self.keep or url in self.reused:
                size = database_sizes(url, name).get(name, 0)
                print(f"kept database {name} ({size_text(size)}): measure on it again with --reuse; "
                      f"--drop-leftovers drops it", flush=True)
            else:
                print(f"dropped database {name} ({size_text(drop_database(url, name, force=True))})", flush=True)
        self.created.clear()
        self.reused.clear()


@contextmanager
def interrupts_as_exit() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C, through every `finally` (so the databases
    are dropped)."""
    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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


def report_body(fingerprint: str) -> str:
    """A 100-layer report as JSON with KEY_PLACEHOLDER where each upload puts a fresh key."""
    from tests.report_factory import make_report

    report = make_report(fingerprint=fingerprint, model="bench-mlp", layers=LAYERS_PER_REPORT)
    report["idempotency_key"] = KEY_PLACEHOLDER
    return json.dumps(report)


# --- the data: runs and layer rows generated inside PostgreSQL ---------------------------------------------------

# Models of the synthetic fleet and their layer counts (1,000 layers in all: 100 a model on average).
MODELS = (("mlp", 64), ("dlrm", 150), ("resnet18", 96), ("bert-tiny", 120), ("lstm", 50), ("gpt2-small", 140),
          ("mobilenet", 80), ("vit-tiny", 110), ("unet", 72), ("whisper-tiny", 118))
OPS = ("MatMul", "Add", "Relu", "Conv", "LayerNorm", "Softmax", "Gather", "Mul")
BENCH_PROJECT = "roofwatch-bench"
BENCH_MACHINE = "bench-m{:03d}"  # the built machines' names
LAYER_NAME = "layer{}"
ROWS_PER_STATEMENT = 1_000_000  # layer rows per INSERT (one transaction each; the progress bar's step)


@dataclass(frozen=True)
class Pair:
    """The runs of one model on one machine: `runs` points in each of its `layers` series."""

    machine: int
    model: int
    layers: int
    runs: int

    @property
    def rows(self) -> int:
        return self.layers * self.runs


def plan(rows: int, points: int) -> list[Pair]:
    """Machines x models until `rows` layer rows: every model on machine 0, then on
    machine 1, ..., each with `points` runs, the last pair with just enough runs
    to reach `rows` (so all but one series have `points` points)."""
    if rows < 1 or points < 1:
        raise ValueError(f"rows and points must be >= 1, got rows={rows}, points={points}")
    pairs, left = [], rows
    while left > 0:
        machine, model = divmod(len(pairs), len(MODELS))
        layers = MODELS[model][1]
        runs = min(points, math.ceil(left / layers))
        pairs.append(Pair(machine, model, layers, runs))
        left -= runs * layers
    return pairs


def layer_shape(model: int, k: int) -> dict:
    """Layer k of model `model`: its op, work, roofs and typical median, all made up
    but consistent (gflops, gbs, ai and bound follow from them as in a report)."""
    op = OPS[(k + model) % len(OPS)]
    dense = op in ("MatMul", "Conv")
    flops = (1 + (model * 7 + k * 13) % 64) * 2**20 if dense else (1 + (k * 5) % 16) * 2**16
    size = (1 + (model * 5 + k * 11) % 32) * 2**16
    threads = 8 if dense else 1  # numpy's elementwise kernels run on one thread
    roof_gflops = 180.0 if dense else 30.0
    roof, roof_gbs = ("gather", 9.0) if op == "Gather" else ("stream", 23.0)
    ai = flops / size
    return {
        "name": LAYER_NAME.format(k), "op": op, "k": k, "sources": json.dumps([LAYER_NAME.format(k)]),
        "flops": flops, "bytes": size, "ai": ai, "bound": "compute" if ai >= roof_gflops / roof_gbs else "bandwidth",
        "threads": threads, "roof": roof, "roof_gflops": roof_gflops, "roof_gbs": roof_gbs,
        "kernel_bytes": 3 * size if op == "Conv" else None,  # im2col moves more than the minimum
        "base": max(flops / (0.6e9 * roof_gflops), size / (0.6e9 * roof_gbs)),
        "stepped": k % 10 == 3,  # layers that get slower halfway through some series
    }


@dataclass(frozen=True)
class Built:
    pairs: list[tuple[str, int, int, int]]  # (machine name, benchmark id, layers, runs)
    runs: int
    rows: int
    seconds: dict[str, float]  # per phase


def fleet(pairs: list[Pair]) -> list[tuple[str, int, int, int]]:
    """The machines and benchmarks of `pairs`, created if missing."""
    from fleet.models import Machine
    from results.canonical import canonical_sha256
    from results.models import Benchmark, Project

    project, _ = Project.objects.get_or_create(name=BENCH_PROJECT, defaults={"repository_url": BENCH_PROJECT})
    benchmarks = {}
    for model in sorted({p.model for p in pairs}):
        name, layers = MODELS[model]
        params = {"layers": layers}
        benchmarks[model], _ = Benchmark.objects.get_or_create(
            project=project, model=name, params_hash=canonical_sha256(params), defaults={"params": params})
    machines = {m: Machine.objects.get_or_create(name=BENCH_MACHINE.format(m))[0] for m in {p.machine for p in pairs}}
    return [(machines[p.machine].name, benchmarks[p.model].pk, p.layers, p.runs) for p in pairs]


def built_pairs() -> list[tuple[str, int, int, int]]:
    """The pairs a database built earlier holds (for --reuse)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT m.name, r.benchmark_id, (b.params->>'layers')::int, count(*) FROM results_run r "
            "JOIN fleet_machine m ON m.id = r.machine_id JOIN results_benchmark b ON b.id = r.benchmark_id "
            "JOIN results_project p ON p.id = b.project_id WHERE p.name = %s GROUP BY 1, 2, 3 ORDER BY 1, 2",
            [BENCH_PROJECT])
        return [tuple(row) for row in cursor.fetchall()]


def month_starts(first: datetime, last: datetime) -> list[date]:
    months, month = [], date(first.year, first.month, 1)
    while month <= last.date():
        months.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months


def ensure_month_partitions(cursor, table: str, first: datetime, last: datetime) -> list[str]:
    """If `table` is partitioned, create the monthly partitions (table_pYYYY_MM,
    midnight UTC bounds) of first..last it lacks, so a year of rows fills months
    instead of a default partition; a plain table is left as it is."""
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
    if cursor.fetchone()[0] != "p":
        return []
    created = []
    for month in month_starts(first, last):
        after = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        name = f"{table}_p{month:%Y_%m}"
        cursor.execute("SELECT to_regclass(%s) IS NULL", [name])
        if cursor.fetchone()[0]:
            cursor.execute(f'CREATE TABLE "{name}" PARTITION OF "{table}" '
                           f"FOR VALUES FROM ('{month} 00:00:00+00') TO ('{after} 00:00:00+00')")
            created.append(name)
    return created


@dataclass(frozen=True)
class Key:
    """An index, key or foreign key of a table, with the statements that drop it and put it back."""

    name: str
    drop: str
    restore: tuple[str, ...]


def loose_keys(cursor, table: str) -> list[Key]:
    """`table`'s indexes, primary, unique and exclusion keys, then its foreign keys
    (the order they go back in), each restorable from its catalogue definitions.
    A key another table's foreign key references stays, as do check constraints
    (cheap per row). On a partitioned table the parent's index is put back ON
    ONLY the parent, then each partition's own under its own name, attached to
    it (as pg_dump does), so the partitions' index names survive too."""
    cursor.execute(
        "SELECT c.conname, pg_get_constraintdef(c.oid), c.contype = 'f', c.conindid FROM pg_constraint c "
        "WHERE c.conrelid = %s::regclass AND c.contype IN ('p', 'u', 'x', 'f') AND NOT EXISTS ("
        "  SELECT 1 FROM pg_constraint r WHERE c.contype <> 'f' AND r.contype = 'f' AND r.confrelid = c.conrelid"
        "  AND r.conindid = c.conindid) ORDER BY c.contype = 'f', c.conname", [table])
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid), x.indexrelid FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass AND NOT EXISTS ("
        "  SELECT 1 FROM pg_constraint c WHERE c.conrelid = x.indrelid AND c.conindid = x.indexrelid) "
        "ORDER BY i.relname", [table])
    indexes = cursor.fetchall()
    cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = %s::regclass", [table])
    partitioned = cursor.fetchone()[0]

    def attached(index: int, name: str) -> list[str]:
        """The statements that put back the partitions' copies of parent index `index`."""
        cursor.execute(
            "SELECT ci.relname, ct.relname, pg_get_indexdef(ci.oid), con.conname, pg_get_constraintdef(con.oid) "
            "FROM pg_inherits h JOIN pg_class ci ON ci.oid = h.inhrelid JOIN pg_index x ON x.indexrelid = ci.oid "
            "JOIN pg_class ct ON ct.oid = x.indrelid "
            "LEFT JOIN pg_constraint con ON con.conrelid = ct.oid AND con.conindid = ci.oid "
            "WHERE h.inhparent = %s ORDER BY ci.relname", [index])
        return [statement for child, child_table, index_def, constraint, constraint_def in cursor.fetchall()
                for statement in (
                    f'ALTER TABLE "{child_table}" ADD CONSTRAINT "{constraint}" {constraint_def}' if constraint
                    else index_def,
                    f'ALTER INDEX "{name}" ATTACH PARTITION "{child}"')]

    only = "ONLY " if partitioned else ""
    keys = [Key(name, f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"',
                (f'ALTER TABLE {only}"{table}" ADD CONSTRAINT "{name}" {definition}',
                 *(attached(index, name) if partitioned else ())))
            for name, definition, foreign, index in constraints if not foreign]
    keys += [Key(name, f'DROP INDEX "{name}"', (definition, *(attached(index, name) if partitioned else ())))
             for name, definition, index in indexes]
    # A foreign key added to a partitioned parent adds its partitions' (named as the parent's) itself.
    keys += [Key(name, f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"',
                 (f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}',))
             for name, definition, foreign, _ in constraints if foreign]
    return keys


@contextmanager
def keys_dropped(cursor, tables: list[str], restore_on_error: bool, times: dict[str, float]) -> Iterator[None]:
    """Drop the tables' loose keys for a bulk load and put them back after it (then
    also on an error when `restore_on_error`), adding the seconds that took to
    times["indexes and keys"]."""
    keys = [key for table in tables for key in loose_keys(cursor, table)]
    for key in reversed(keys):  # foreign keys first
        cursor.execute(key.drop)
    restore = True
    try:
        yield
    except BaseException:
        restore = restore_on_error
        raise
    finally:
        if restore:
            times.setdefault("indexes and keys", 0.0)
            for key in keys:
                start = time.perf_counter()
                for statement in key.restore:
                    cursor.execute(statement)
                took = time.perf_counter() - start
                times["indexes and keys"] += took
                print(f"  put back {key.name} ({took:.1f} s)", flush=True)


BUILD_SETTINGS = {  # this session's, for the build only
    "maintenance_work_mem": "1GB",  # index builds sort in memory
    "work_mem": "256MB",  # the run sort and the foreign keys' validation joins
    "synchronous_commit": "off",
}


def build(rows: int, points: int, days: int = 365, end: datetime | None = None, progress: bool = True,
          restore_on_error: bool = True) -> Built:
    """Runs and `rows` layer rows (plan(rows, points)) over the `days` before `end`,
    plus their series catalogue, then VACUUM ANALYZE (fresh statistics and a
    visibility map, so series reads are index-only scans)."""
    from django.db import connection
    from tqdm import tqdm

    from engine.report import END_TO_END
    from fleet.models import Machine
    from results.models import LayerMeasurement, Run, Series

    pairs = plan(rows, points)
    named = fleet(pairs)
    end = (end or datetime.now(timezone.utc)).replace(minute=0, second=0, microsecond=0)
    first = end - timedelta(days=days)
    step_s = days * 86400 / points  # between a pair's runs
    layer_table, run_table = LayerMeasurement._meta.db_table, Run._meta.db_table
    times: dict[str, float] = {}
    with connection.cursor() as cursor:
        for setting, value in BUILD_SETTINGS.items():
            cursor.execute(f"SET {setting} = '{value}'")
        ensure_month_partitions(cursor, layer_table, first, end)
        cursor.execute("CREATE TEMPORARY TABLE bench_plan (slot int, machine_id bigint, benchmark_id bigint, "
                       "runs int, speed float8, e2e float8, step_at timestamptz)")
        cursor.execute("CREATE TEMPORARY TABLE bench_layers (benchmark_id bigint, name text, op text, k int, "
                       "sources jsonb, flops bigint, bytes bigint, ai float8, bound text, threads int, roof text, "
                       "roof_gflops float8, roof_gbs float8, kernel_bytes bigint, base float8, stepped bool)")
        shapes = {p.model: [layer_shape(p.model, k) for k in range(p.layers)] for p in pairs}
        ids = {p.model: benchmark for p, (_, benchmark, _, _) in zip(pairs, named)}
        cursor.executemany(
            "INSERT INTO bench_layers VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(ids[model], s["name"], s["op"], s["k"], s["sources"], s["flops"], s["bytes"], s["ai"], s["bound"],
              s["threads"], s["roof"], s["roof_gflops"], s["roof_gbs"], s["kernel_bytes"], s["base"], s["stepped"])
             for model, layers in shapes.items() for s in layers])
        machine_ids = dict(Machine.objects.filter(name__in=[name for name, *_ in named]).values_list("name", "id"))
        cursor.executemany("INSERT INTO bench_plan VALUES (%s, %s, %s, %s, %s, %s, %s)", [
            (slot, machine_ids[name], benchmark, p.runs, 1 + (p.machine % 5) * 0.1,
             sum(s["base"] for s in shapes[p.model]),
             first + timedelta(seconds=step_s * points / 2) if slot % 4 == 0 else None)
            for slot, (p, (name, benchmark, _, _)) in enumerate(zip(pairs, named))])
        cursor.execute(f'SELECT coalesce(max(id), 0) FROM "{run_table}"')
        before = cursor.fetchone()[0]
        with keys_dropped(cursor, [run_table, layer_table], restore_on_error, times):
            start = time.perf_counter()
            print(f"  {sum(p.runs for p in pairs):,} runs ...", flush=True)
            # A run's commit is shared by every pair's i-th run (the fleet measures the same commits).
            cursor.execute(f"""
                INSERT INTO "{run_table}" (idempotency_key, payload_sha256, machine_id, benchmark_id, model_version,
                    config, config_hash, "commit", branch, ci_url, started_at, received_at, warmup, repeats, median,
                    p25, p75, "min", n, ci_low, ci_high, peak_gflops, peak_gbs, timed_page_faults, catalogued, purpose)
                SELECT gen_random_uuid(), md5(p.slot || ':' || i) || md5(i || ':' || p.slot), p.machine_id,
                    p.benchmark_id, 'v' || (i / 500), '{{"threads": 8}}', md5('threads') || md5('8'),
                    md5('commit' || i) || left(md5('c' || i), 8), 'main', '', t.at, t.at + interval '3 minutes',
                    3, 30, e.m, e.m * 0.98, e.m * 1.03, e.m * 0.97, 30, e.m * 0.99, e.m * 1.01, 180.0, 23.0, 0,
                    true, ''
                FROM bench_plan p
                CROSS JOIN LATERAL generate_series(0, p.runs - 1) AS i
                CROSS JOIN LATERAL (SELECT %s::timestamptz
                    + (i + mod(p.slot, 97) / 97.0) * %s * interval '1 second' AS at) t
                CROSS JOIN LATERAL (SELECT p.e2e * p.speed * (1 + 0.04 * (random() - 0.5)) AS m) e
                ORDER BY t.at, p.slot""", [first, step_s])
            runs = cursor.rowcount
            cursor.execute(f'SELECT min(id), max(id) FROM "{run_table}" WHERE id > %s', [before])
            low, high = cursor.fetchone()
            times["runs"] = time.perf_counter() - start
            start = time.perf_counter()
            chunk = max(1, ROWS_PER_STATEMENT * len(pairs) // max(1, sum(p.layers for p in pairs)))
            written = 0
            with tqdm(total=sum(p.rows for p in pairs), unit="row", unit_scale=True, disable=not progress,
                      desc="  layer rows", mininterval=2) as bar:
                for lo in range(low, high + 1, chunk):
                    cursor.execute(f"""
                        INSERT INTO "{layer_table}" (run_id, machine_id, benchmark_id, started_at, name, op, "index",
                            sources, flops, bytes, median, p25, p75, "min", n, ci_low, ci_high, gflops, gbs, ai,
                            bound, threads, roof, roof_gflops, roof_gbs, kernel_bytes)
                        SELECT r.id, r.machine_id, r.benchmark_id, r.started_at, l.name, l.op, l.k, l.sources,
                            l.flops, l.bytes, t.m, t.m * 0.98, t.m * 1.03, t.m * 0.97, 30, t.m * 0.99, t.m * 1.01,
                            l.flops / t.m / 1e9, l.bytes / t.m / 1e9, l.ai, l.bound, l.threads, l.roof,
                            l.roof_gflops, l.roof_gbs, l.kernel_bytes
                        FROM "{run_table}" r
                        JOIN bench_plan p ON p.machine_id = r.machine_id AND p.benchmark_id = r.benchmark_id
                        JOIN bench_layers l ON l.benchmark_id = r.benchmark_id
                        CROSS JOIN LATERAL (SELECT l.base * p.speed * (1 + 0.04 * (random() - 0.5))
                            * CASE WHEN l.stepped AND r.started_at >= p.step_at THEN 1.15 ELSE 1 END AS m) t
                        WHERE r.id >= %s AND r.id < %s""", [lo, min(lo + chunk, high + 1)])
                    written += cursor.rowcount
                    bar.update(cursor.rowcount)
            times["layer rows"] = time.perf_counter() - start
            print(f"  {written:,} layer rows in {times['layer rows']:.0f} s "
                  f"({written / times['layer rows']:,.0f} rows/s); indexes and keys next", flush=True)
        start = time.perf_counter()
        cursor.execute(f"""
            WITH runs AS (SELECT machine_id, benchmark_id, min(started_at) AS first, max(started_at) AS last,
                                 count(*) AS points
                          FROM "{run_table}" WHERE id > %s GROUP BY 1, 2)
            INSERT INTO "{Series._meta.db_table}"
                (machine_id, benchmark_id, layer, op, "index", "first", "last", points)
            SELECT machine_id, benchmark_id, %s, '', NULL, first, last, points FROM runs
            UNION ALL
            SELECT r.machine_id, r.benchmark_id, l.name, l.op, l.k, r.first, r.last, r.points
            FROM runs r JOIN bench_layers l USING (benchmark_id)""", [before, END_TO_END])
        times["series catalogue"] = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_plan, bench_layers")
        for setting in BUILD_SETTINGS:
            cursor.execute(f"RESET {setting}")
        start = time.perf_counter()
        print("  VACUUM ANALYZE ...", flush=True)
        for table in (run_table, layer_table, Series._meta.db_table):
            cursor.execute(f'VACUUM ANALYZE "{table}"')
        times["VACUUM ANALYZE"] = time.perf_counter() - start
    return Built(named, runs, written, times)


def table_size(table: str) -> dict[str, int]:
    """Bytes of `table` (its partitions included): heap (with TOAST) and indexes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(  # pg_partition_tree lists nothing for a plain table
            "SELECT coalesce(sum(pg_table_size(relid)), 0), coalesce(sum(pg_indexes_size(relid)), 0) "
            "FROM (SELECT relid FROM pg_partition_tree(%s::regclass) UNION SELECT %s::regclass) tree", [table, table])
        heap, indexes = cursor.fetchone()
    return {"heap": int(heap), "indexes": int(indexes)}


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
        """A fresh agent token for `machine`, made by this checkout's own command; the
        machine may post to every project (the reports name a made-up repository)."""
        done = subprocess.run([sys.executable, str(self.tree / "manage.py"), "agent_token", machine, "--all-projects"],
                              cwd=self.tree, env=self.env, check=True, capture_output=True, text=True)
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


# --- (d) series reads ------------------------------------------------------------------------------------------


def series_reads(pairs: list[tuple[str, int, int, int]], points: int, queries: int) -> dict[str, dict[str, float]]:
    """p50/p95 ms of reading the newest `points` points of random layer series of
    the pairs with that many runs: through results.series.series_points (the
    API's query, with each point's run fields) and as the bare ORM query on the
    layer_series index."""
    import random

    from results.models import LayerMeasurement
    from results.series import PointsQuery, series_points

    full = [(machine, benchmark, layers) for machine, benchmark, layers, runs in pairs if runs >= points]
    if not full:
        raise SystemExit(f"no series has {points} points: build at least {points * MODELS[0][1]:,} rows")
    query = PointsQuery(metric="median", since=None, until=None, limit=points)
    readers = {
        "results.series.series_points": lambda machine, benchmark, layer: len(
            series_points(machine, benchmark, layer, query)["points"]),
        "bare ORM query on layer_series": lambda machine, benchmark, layer: len(list(
            LayerMeasurement.objects.filter(machine__name=machine, benchmark_id=benchmark, name=layer)
            .order_by("-started_at").values_list("started_at", "median", "p25", "p75")[:points])),
    }
    figures = {}
    for how, read in readers.items():
        rnd = random.Random(1)

        def series() -> tuple[str, int, str]:
            machine, benchmark, layers = rnd.choice(full)
            return machine, benchmark, LAYER_NAME.format(rnd.randrange(layers))

        for _ in range(3):
            read(*series())
        latencies = []
        for _ in range(queries):
            which = series()
            start = time.perf_counter()
            got = read(*which)
            latencies.append(time.perf_counter() - start)
            if got != points:
                raise RuntimeError(f"a series query ({how}, {which}) returned {got} points, expected {points}")
        figures[how] = {"p50_ms": percentile(latencies, 50) * 1e3, "p95_ms": percentile(latencies, 95) * 1e3}
    return figures


# --- main ------------------------------------------------------------------------------------------------------


Row = tuple[str, str, str, bool | None, str]  # measure, measured, goal, met (None: no goal), load average then


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/roofwatch_bench")
    parser.add_argument("--rows", type=int, default=10_000_000, help="layer rows to build (default 10 M)")
    parser.add_argument("--points", type=int, default=5000,
                        help="runs per machine and model: the points of each layer series, over a year")
    parser.add_argument("--keep", action="store_true", help="leave the databases this run creates (says how big)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure on the database --keep left (no build); it is kept again")
    parser.add_argument("--drop-leftovers", action="store_true",
                        help=f"first drop the {LEFTOVER_PREFIX}* databases earlier runs left (those in use stay)")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/9",
                        help="Celery broker of the servers (default: Redis db 9, the benchmark's own)")
    parser.add_argument("--worker", action="store_true", help="run one Celery worker while the clients post")
    parser.add_argument("--posts", type=int, default=200, help="(a) sequential POSTs timed (per server)")
    parser.add_argument("--baseline-tree", type=Path, help="(a) another checkout to time side by side")
    parser.add_argument("--baseline-database-url",
                        default="postgres://postgres@127.0.0.1:5432/roofwatch_bench_base")
    parser.add_argument("--clients", type=int, default=4, help="(b) concurrent clients, one machine each")
    parser.add_argument("--workers", type=int, default=2, help="(a, b) gunicorn workers")
    parser.add_argument("--bulk-seconds", type=float, default=20.0, help="(b) how long the clients post, per endpoint")
    parser.add_argument("--batch-size", type=int, default=50, help="(b) reports per /runs/batch/ request")
    parser.add_argument("--queries", type=int, default=50, help="(d) series queries timed")
    parser.add_argument("--skip", choices=["api", "bulk", "series"], action="append", default=[])
    args = parser.parse_args(argv)
    for url in (args.database_url, args.baseline_database_url):
        if urlsplit(url).scheme not in ("postgres", "postgresql"):
            parser.error("database URLs must be postgres:// URLs: the data is built with PostgreSQL's SQL")
    if args.rows < 1 or args.points < 1:
        parser.error("--rows and --points must be >= 1")
    if args.keep and args.reuse:
        parser.error("--reuse keeps the database anyway; --keep is for a run that builds one")
    return args


def http_rows(args: argparse.Namespace, env: dict[str, str], databases: BenchDatabases) -> list[Row]:
    """(a) and (b): the servers (and the worker) run only for these, and are stopped after."""
    worker = start_worker(env) if args.worker else None
    print(f"post-commit tasks go to {args.broker_url}; "
          + ("one Celery worker consumes them" if worker else "no worker consumes them during the run"))
    rows: list[Row] = []
    servers: dict[str, Server] = {}
    try:
        if "api" not in args.skip or "bulk" not in args.skip:
            servers["this tree"] = Server(REPO, env, workers=args.workers)
        if args.baseline_tree and "api" not in args.skip:
            databases.create(args.baseline_database_url)
            servers["baseline"] = Server(args.baseline_tree.resolve(),
                                         server_env(args.baseline_database_url, args.broker_url),
                                         workers=args.workers)
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
    load = load_now()
    for label, figures in api.items():
        print(f"(a) {label}: {figures['posts']} POSTs: p50 {figures['p50_ms']:.1f} ms, "
              f"p95 {figures['p95_ms']:.1f} ms (load {load})", flush=True)
    ours = api["this tree"]
    rows: list[Row] = [
        ("API POST /runs/, 100 layers, p50", f"{ours['p50_ms']:.1f} ms",
         f"<= {GOALS['api_p50_ms']:.0f} ms", ours["p50_ms"] <= GOALS["api_p50_ms"], load),
        ("API POST /runs/, 100 layers, p95", f"{ours['p95_ms']:.1f} ms", "", None, load),
        ("  CPU per POST: server / PostgreSQL",
         f"{ours['server_cpu_ms']:.1f} / {ours['postgres_cpu_ms']:.1f} ms", "", None, load),
    ]
    if "baseline" in api:
        base = api["baseline"]
        for stat in ("p50", "p95"):
            rows.append((f"  baseline tree, same client, {stat}", f"{base[f'{stat}_ms']:.1f} ms",
                         f"{base[f'{stat}_ms'] / ours[f'{stat}_ms']:.2f}x ours", None, load))
        rows.append(("  baseline CPU per POST: server / PostgreSQL",
                     f"{base['server_cpu_ms']:.1f} / {base['postgres_cpu_ms']:.1f} ms",
                     f"{base['server_cpu_ms'] / ours['server_cpu_ms']:.2f}x ours (server)", None, load))
    return rows


def bulk_rows(server: Server, args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    for size in (1, args.batch_size):
        endpoint = "/runs/" if size == 1 else f"/runs/batch/ ({size}/request)"
        bulk = bulk_ingest(server, args.clients, args.bulk_seconds, size)
        load = load_now()
        print(f"(b) {endpoint}, {args.clients} clients, {args.workers} workers: {bulk['reports']} reports in "
              f"{bulk['seconds']:.1f} s (load {load})", flush=True)
        rows.append((f"bulk HTTP {endpoint}, {args.clients} clients, {args.workers} workers",
                     f"{bulk['rows_per_s']:,.0f} rows/s", f">= {GOALS['rows_per_s']:,.0f} rows/s",
                     bulk["rows_per_s"] >= GOALS["rows_per_s"], load))
        rows.append((f"  ({bulk['reports_per_s']:.1f} reports/s)", "", "", None, load))
        web = bulk["cpu_us_per_row_server"]
        rows.append(("  web CPU per layer row", f"{web:.1f} us", f"<= {GOALS['web_cpu_us_per_row']:.0f} us",
                     web <= GOALS["web_cpu_us_per_row"], load))
        for what in ("postgres", "client"):
            rows.append((f"  CPU per layer row: {what}", f"{bulk[f'cpu_us_per_row_{what}']:.1f} us", "", None, load))
        rows.append((f"  rows/s with the {os.cpu_count()} cores to server+PG",
                     f"{bulk['rows_per_s_own_cores']:,.0f} rows/s", "(from CPU used)", None, load))
    return rows


def build_rows(built: Built) -> list[Row]:
    from results.models import LayerMeasurement, Run

    load = load_now()
    total = sum(built.seconds.values())
    layers, runs = table_size(LayerMeasurement._meta.db_table), table_size(Run._meta.db_table)
    per_row = (layers["heap"] + layers["indexes"]) / built.rows
    print(f"built {built.rows:,} layer rows of {built.runs:,} runs in {total:.0f} s (load {load}): "
          + ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in built.seconds.items()), flush=True)
    return [
        (f"build {built.rows:,} layer rows, {built.runs:,} runs", f"{total:.0f} s", "(all phases)", None, load),
        ("  layer rows written", f"{built.rows / built.seconds['layer rows']:,.0f} rows/s", "(no indexes)", None,
         load),
        ("  all phases", f"{built.rows / total:,.0f} rows/s", "(keys, VACUUM incl.)", None, load),
        ("  layer table: heap / indexes", f"{size_text(layers['heap'])} / {size_text(layers['indexes'])}", "",
         None, load),
        ("  per layer row, indexes incl.", f"{per_row:.0f} B",
         f"(runs: {(runs['heap'] + runs['indexes']) / built.runs:.0f} B each)", None, load),
    ]


def series_rows(pairs: list[tuple[str, int, int, int]], args: argparse.Namespace) -> list[Row]:
    from django.db import connection

    from results.models import LayerMeasurement

    rows: list[Row] = []
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{LayerMeasurement._meta.db_table}"')
        total = f"{cursor.fetchone()[0]:,}"
    for how, reads in series_reads(pairs, args.points, args.queries).items():
        load = load_now()
        print(f"(d) {how}: p50 {reads['p50_ms']:.1f} ms, p95 {reads['p95_ms']:.1f} ms (load {load})", flush=True)
        rows.append((f"series read, {args.points} points, {total} rows, via {how}", "", "", None, load))
        rows.append(("  p50", f"{reads['p50_ms']:.1f} ms", "", None, load))
        rows.append(("  p95", f"{reads['p95_ms']:.1f} ms", f"<= {GOALS['series_p95_ms']:.0f} ms",
                     reads["p95_ms"] <= GOALS["series_p95_ms"], load))
    return rows


def print_table(rows: list[Row]) -> None:
    print(f"{'measure':<66} {'measured':>20} {'goal':>22}  met  {'load 1/5 min'}")
    for name, value, goal, met, load in rows:
        print(f"{name:<66} {value:>20} {goal:>22}  {'' if met is None else ('yes' if met else 'NO'):<3}  {load}")


def measure(args: argparse.Namespace, databases: BenchDatabases) -> list[Row]:
    rows: list[Row] = []
    if args.reuse:
        databases.reuse(args.database_url)
    else:
        databases.create(args.database_url)
    print(f"database {database_name(args.database_url)}: {'reused' if args.reuse else 'created'}", flush=True)
    env = setup_django(args.database_url, args.broker_url)
    if args.reuse:
        pairs = built_pairs()
        print(f"reused: {sum(layers * runs for _, _, layers, runs in pairs):,} built layer rows", flush=True)
    else:
        print(f"building {args.rows:,} layer rows, {args.points} runs per machine and model ({load_average()})",
              flush=True)
        built = build(args.rows, args.points, restore_on_error=args.keep)
        rows += build_rows(built)
        pairs = built.pairs
    if "series" not in args.skip:  # first: on the table as built and vacuumed, before the clients add to it
        rows += series_rows(pairs, args)
    queued_tasks(args.broker_url, purge=True)  # leftovers of an interrupted run
    rows += http_rows(args, env, databases)
    waiting = queued_tasks(args.broker_url, purge=True)
    print(f"tasks left in the queue: {waiting} (emptied)")
    return rows


def main() -> None:
    args = parse_args()
    print(f"start: {load_average()}")
    if args.drop_leftovers:
        drop_leftovers(args.database_url)
    else:
        for name, size in database_sizes(args.database_url, LEFTOVER_PREFIX).items():
            print(f"note: database {name} ({size_text(size)}) is left from an earlier run (--drop-leftovers)")
    databases = BenchDatabases(keep=args.keep)
    rows: list[Row] = []
    try:
        with interrupts_as_exit():
            try:
                rows = measure(args, databases)
            finally:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop the drop halfway
                databases.close()
    except KeyboardInterrupt as stop:
        print(f"interrupted ({str(stop) or 'Ctrl-C'}) at {load_average()}", file=sys.stderr)
        raise SystemExit(130) from None
    print(f"end: {load_average()}")
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
