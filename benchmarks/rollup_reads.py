"""Speed of reading a one-year range of a layer series from the daily rollups
on PostgreSQL, against issue 23's goal (p95 <= 150 ms). Prints figures;
asserts nothing.

    .venv/bin/python benchmarks/rollup_reads.py [--database-url URL] [--machines 20] [--layers 50]
                                                [--days 400] [--repeats 200]

Creates a scratch database (roofwatch_rollup_bench_<pid> on the server of
--database-url), migrates it, COPYs `machines x layers x days` daily rollups
(one benchmark; 400,000 rows by default) with every day sealed, so the raw
window starts today, then times GET /api/v1/series/<machine>/<benchmark>/<layer>/
?since=<a year ago> through Django's test client (URL routing, DRF, the
query, JSON), each request a random series; p50/p95 of --repeats requests
after 5 warm-ups, with the load average. The scratch database is dropped
afterwards, also when the run fails. Settings are tests.settings with DEBUG
off. The machine is shared and has 2 cores: run it twice and compare.
"""
from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "platform")]

from dashboard_speed import setup_django  # noqa: E402 (benchmarks/ is on sys.path when run)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres"
GOAL_P95_MS = 150.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def create_scratch(url: str) -> str:
    import psycopg
    from psycopg import sql

    name = f"roofwatch_rollup_bench_{os.getpid()}"
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def drop_scratch(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def build(machines: int, layers: int, days: int, today: date) -> tuple[list[str], int, list[str]]:
    """The fleet's machines, one benchmark, and its layers' daily rollups for
    the `days` days before today (every day sealed); returns (machine names,
    benchmark id, layer names)."""
    from django.db import connection

    from fleet.models import Machine
    from results.models import Benchmark, DailyRollup, Project, RollupDay

    project = Project.objects.create(name="bench/rollups", repository_url="https://example.com/bench/rollups")
    benchmark = Benchmark.objects.create(project=project, model="mlp", params={"batch_size": 64}, params_hash="x")
    names = [f"rollup-bench-{i}" for i in range(machines)]
    machine_ids = [Machine.objects.create(name=name).pk for name in names]
    layer_names = [f"fc{i}" for i in range(layers)]
    rng = random.Random(23)
    first_day = today - timedelta(days=days)
    columns = ("machine_id", "benchmark_id", "layer", "day", "op", "index", "median", "p25", "p75", "min", "n",
               "first", "last", "flops", "bytes")
    table = DailyRollup._meta.db_table
    with connection.cursor() as cursor, cursor.copy(
        f"COPY {table} ({', '.join(connection.ops.quote_name(c) for c in columns)}) FROM STDIN"
    ) as copy:
        # Day-major, as the daily beat task writes them: a series' days lie far apart in the heap.
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            noon = datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
            buffer = io.StringIO()
            for machine_id in machine_ids:
                for index, layer in enumerate(layer_names):
                    median = 1e-4 * (1 + index / 10) * (1 + rng.gauss(0, 0.02))
                    buffer.write(
                        f"{machine_id}\t{benchmark.pk}\t{layer}\t{day.isoformat()}\tLinear\t{index}\t{median}\t"
                        f"{median * 0.98}\t{median * 1.03}\t{median * 0.95}\t24\t{noon.isoformat()}\t"
                        f"{noon.isoformat()}\t16777216\t1048576\n"
                    )
            copy.write(buffer.getvalue())
    now = datetime.now(timezone.utc)
    RollupDay.objects.bulk_create(
        [RollupDay(day=first_day + timedelta(days=i), rolled_at=now, series=machines * layers, sealed_at=now)
         for i in range(days)]
    )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")
    return names, benchmark.pk, layer_names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help="a PostgreSQL server; the scratch database goes there (its path is ignored)")
    parser.add_argument("--machines", type=int, default=20)
    parser.add_argument("--layers", type=int, default=50)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()

    scratch = create_scratch(args.database_url)
    try:
        setup_django(scratch)
        from django.test import Client

        today = datetime.now(timezone.utc).date()
        began = time.perf_counter()
        names, benchmark_id, layers = build(args.machines, args.layers, args.days, today)
        rows = args.machines * args.layers * args.days
        print(f"built {rows:,} daily rollups ({args.machines} machines x {args.layers} layers x {args.days} days) "
              f"in {time.perf_counter() - began:.1f} s")
        since = (today - timedelta(days=365)).isoformat()
        client, rng = Client(), random.Random(1)

        def one() -> float:
            path = f"/api/v1/series/{rng.choice(names)}/{benchmark_id}/{rng.choice(layers)}/?since={since}"
            started = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            body = response.json()
            assert response.status_code == 200 and len(body["points"]) == 365, (response.status_code, path)
            assert body["resolution"][0]["source"] == "daily"
            return elapsed

        for _ in range(5):
            one()
        load_before = load()
        times = [one() for _ in range(args.repeats)]
        p50, p95 = statistics.median(times), percentile(times, 95)
        print(f"one-year range from rollups (365 daily points), {args.repeats} requests: "
              f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(times):.1f} ms (goal p95 <= {GOAL_P95_MS:.0f} ms: "
              f"{'met' if p95 <= GOAL_P95_MS else 'NOT met'})")
        print(f"load average before {load_before}, after {load()} on {os.cpu_count()} cores")
    finally:
        from django.db import connections

        connections.close_all()
        drop_scratch(scratch)
        print(f"dropped {urlsplit(scratch).path.lstrip('/')}")


if __name__ == "__main__":
    main()
