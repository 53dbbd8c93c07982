"""Speed of `manage.py import_asv` on a generated asv history (benchmarks/asv_history.py):
results stored per second on SQLite and PostgreSQL, and the detection sweep
over the imported series. Goals (issue 28): >= 2,000 results/s on PostgreSQL,
>= 1,000 results/s on SQLite, the sweep <= 60 s, for 5,000 files x 50 results.

    python benchmarks/asv_import_speed.py                        # both databases, 5,000 x 50, 3 repeats
    python benchmarks/asv_import_speed.py --db sqlite --files 500 --repeats 1
    PG_URL=postgres://postgres@127.0.0.1:5432/postgres python benchmarks/asv_import_speed.py --db postgres

Each repeat runs in a fresh process on a fresh database: a SQLite file in a
temporary directory, or the PostgreSQL database SCRATCH_DB, created, migrated
and dropped at the end of the run (also after a failure or Ctrl-C). The import
is timed without detection (results/s = runs stored / wall seconds, reading and
parsing included), then the sweep is timed on its own, as the command runs it.
A re-import of the same history is timed too (it stores nothing). Prints
medians over the repeats and the load average before and after (the machine
may be shared: compare figures taken side by side only).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "h28_bench"


def child(results_dir: str) -> None:
    """In a fresh process with DATABASE_URL set: migrate, import, sweep, re-import; prints JSON."""
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "roofwatch.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from results.asv_import import import_asv_results
    from results.signals import send_runs_imported

    started = time.perf_counter()
    summary = import_asv_results(results_dir, detect=False)
    import_s = time.perf_counter() - started
    from results.models import Run

    groups = sorted(Run.objects.order_by().values_list("machine_id", "benchmark_id").distinct())
    started = time.perf_counter()
    alerts = send_runs_imported(groups)
    sweep_s = time.perf_counter() - started
    started = time.perf_counter()
    again = import_asv_results(results_dir, detect=False)
    reimport_s = time.perf_counter() - started
    print(json.dumps({
        "vendor": connection.vendor, "files": summary.files, "imported": summary.imported,
        "skipped": summary.skipped, "failed": summary.failed, "import_s": import_s,
        "results_per_s": summary.imported / import_s, "series": len(groups), "alerts": alerts, "sweep_s": sweep_s,
        "reimport_s": reimport_s, "reimported": again.imported, "existing": again.existing,
    }))


def run_child(results_dir: Path, database_url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "1"}
    env.pop("CELERY_BROKER_URL", None)  # nothing is queued; no broker needed
    done = subprocess.run([sys.executable, __file__, "--child", str(results_dir)], env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"the measuring process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_sqlite(results_dir: Path, repeats: int) -> list[dict]:
    out = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="asv-import-bench-") as tmp:
            out.append(run_child(results_dir, f"sqlite:///{tmp}/bench.sqlite3"))
    return out


def measure_postgres(results_dir: Path, repeats: int, pg_url: str) -> list[dict]:
    import psycopg
    from platform_ingest import admin_url, drop_database  # this script's folder is on sys.path

    url = pg_url.rsplit("/", 1)[0] + "/" + SCRATCH_DB
    out = []
    try:
        for _ in range(repeats):
            drop_database(url, SCRATCH_DB, force=True)
            with psycopg.connect(admin_url(url), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{SCRATCH_DB}"')
            out.append(run_child(results_dir, url))
    finally:
        drop_database(url, SCRATCH_DB, force=True)
        print(f"dropped database {SCRATCH_DB}", file=sys.stderr)
    return out


def report(name: str, runs: list[dict]) -> None:
    med = {key: statistics.median(r[key] for r in runs) for key in ("results_per_s", "import_s", "sweep_s",
                                                                    "reimport_s")}
    first = runs[0]
    print(f"{name}: {first['files']} files, {first['imported']} results imported ({first['skipped']} skipped, "
          f"{first['failed']} files failed); median of {len(runs)}: {med['results_per_s']:,.0f} results/s "
          f"({med['import_s']:.1f} s); detection sweep {med['sweep_s']:.1f} s over {first['series']} series "
          f"({first['alerts']} alerts); re-import {med['reimport_s']:.1f} s, stored {first['reimported']}")
    print(f"  each repeat: results/s {[round(r['results_per_s']) for r in runs]}, "
          f"sweep s {[round(r['sweep_s'], 1) for r in runs]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", metavar="RESULTS_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--results", type=int, default=50, help="results per file")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    from asv_history import write_history  # this script's folder is on sys.path

    pg_url = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    with tempfile.TemporaryDirectory(prefix="asv-history-") as tmp:
        started = time.perf_counter()
        results_dir = write_history(Path(tmp), args.files, args.results)
        print(f"generated {args.files} files x {args.results} results in {time.perf_counter() - started:.1f} s")
        print(f"load average before: {os.getloadavg()}")
        if args.db in ("sqlite", "both"):
            report("SQLite", measure_sqlite(results_dir, args.repeats))
        if args.db in ("postgres", "both"):
            report("PostgreSQL", measure_postgres(results_dir, args.repeats, pg_url))
        print(f"load average after: {os.getloadavg()}  (CPUs: {os.cpu_count()}; the machine may be shared)")


if __name__ == "__main__":
    main()
