"""The online conversion of a plain layer table to monthly partitions, timed
while ingest goes on (results.partitions.convert_to_partitioned, what
`manage.py partition_layers` runs).

    .venv/bin/python benchmarks/partition_conversion.py [--rows 10000000] [--batch-size 200000]

Builds a plain (unpartitioned) layer table of --rows rows in its own database
(benchmarks/platform_ingest.py's builder), then converts it while a writer
thread stores a 100-layer report every --interval seconds through the ingest
code. Prints the conversion's phases, how long the swap locked the table, the
writer's latencies (all, and those that overlapped the swap), that no upload
failed, and that every row is there afterwards. The database is dropped at
the end (--keep leaves it). Load average beside each figure.
"""
from __future__ import annotations

import argparse
import json
import threading
import time
import uuid

from platform_ingest import (
    BenchDatabases,
    build,
    interrupts_as_exit,
    load_now,
    percentile,
    setup_django,
)


def plain_layer_table() -> None:
    """Replace the migrated (partitioned) layer table by the plain one Django's
    model makes: what a database partitioned by no migration yet holds."""
    from django.db import connection

    from results.models import LayerMeasurement

    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE "{LayerMeasurement._meta.db_table}" CASCADE')
    with connection.schema_editor() as editor:
        editor.create_model(LayerMeasurement)


class Writer(threading.Thread):
    """Stores a fresh 100-layer report every `interval` s; records (start, seconds, error)."""

    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval, self.stop, self.uploads = interval, threading.Event(), []

    def run(self) -> None:
        from django.db import connection

        from fleet.models import Machine
        from results.ingest import ingest_report
        from tests.report_factory import make_report

        machine, _ = Machine.objects.update_or_create(name="bench-conversion-writer",
                                                      defaults={"all_projects": True})
        template = make_report(layers=100, fingerprint="fp-conversion")
        try:
            while not self.stop.is_set():
                template["idempotency_key"] = str(uuid.uuid4())
                started = time.monotonic()
                error = None
                try:
                    ingest_report(json.dumps(template).encode(), machine)
                except Exception as exc:  # counted and shown, never hidden
                    error = repr(exc)
                self.uploads.append((started, time.monotonic() - started, error))
                self.stop.wait(self.interval)
        finally:
            connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/roofwatch_bench_conversion")
    parser.add_argument("--broker-url", default="memory://")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--points", type=int, default=5000, help="runs per machine and model (the builder's)")
    parser.add_argument("--batch-size", type=int, default=200_000, help="rows copied per transaction")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between the writer's uploads")
    parser.add_argument("--keep", action="store_true", help="leave the database")
    args = parser.parse_args()

    databases = BenchDatabases(args.keep)
    with interrupts_as_exit():
        try:
            databases.create(args.database_url)
            setup_django(args.database_url, args.broker_url)
            run(args)
        finally:
            databases.close()


def run(args: argparse.Namespace) -> None:
    from django.db import connection

    from results import ingest, partitions

    ingest.send_runs_ingested = lambda *a, **k: None  # no detection or catalogue tasks after each upload
    plain_layer_table()
    build(args.rows, points=args.points, progress=True)
    assert not partitions.is_partitioned()
    print(f"plain table built: {args.rows:,} rows (load {load_now()})", flush=True)

    writer = Writer(args.interval)
    writer.start()
    time.sleep(2)  # the writer is going before the conversion starts
    phases: list[tuple[float, str]] = []
    began = time.monotonic()
    result = partitions.convert_to_partitioned(
        args.batch_size, progress=lambda message: phases.append((time.monotonic(), message)))
    swap_end = time.monotonic()
    time.sleep(2)
    writer.stop.set()
    writer.join()

    for at, message in phases:
        if not message.startswith("copied") or message == phases[-2][1]:
            print(f"  {at - began:7.1f} s  {message}")
    failures = [u for u in writer.uploads if u[2]]
    latencies = [u[1] * 1e3 for u in writer.uploads]
    swap_start = swap_end - result.write_hold_seconds
    in_swap = [u[1] * 1e3 for u in writer.uploads if u[0] < swap_end and u[0] + u[1] > swap_start]
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{partitions.TABLE}"')
        stored = cursor.fetchone()[0]
    written = sum(100 for u in writer.uploads if not u[2])
    print(f"converted {result.rows:,} rows in {result.batches} batches into {result.partitions} monthly partitions "
          f"in {result.seconds:.1f} s (load {load_now()})")
    print(f"the swap locked the layer table for {result.write_hold_seconds * 1e3:.0f} ms")
    print(f"writer: {len(writer.uploads)} uploads of 100 layers, {len(failures)} failed; latency p50 "
          f"{percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms; "
          f"the {len(in_swap)} overlapping the swap: max {max(in_swap, default=0):.1f} ms")
    print(f"rows after: {stored:,} = {args.rows:,} built + {written:,} written: "
          f"{'yes' if stored == args.rows + written else 'NO'}; partitioned: {partitions.is_partitioned()}")
    for failure in failures[:5]:
        print("  failed upload:", failure[2])


if __name__ == "__main__":
    main()
