"""Web CPU of run-report ingest on PostgreSQL: decode + validate + store, in
process, for one 100-layer report and a 50-report batch; µs of this process's
CPU (time.process_time: the web worker's share, not the database server's)
per layer row, and the wall-clock p50 of one report.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python benchmarks/ingest_cpu.py
    python benchmarks/ingest_cpu.py --tree /tmp/base     # another checkout, e.g. the code before msgspec
    python benchmarks/ingest_cpu.py --copy               # only the layer COPY: binary vs text
    python benchmarks/ingest_cpu.py --scratch-db rw_mine # another scratch database's name

Uploads are stored (in their own database, `roofwatch_ingest_cpu` unless --scratch-db says), with
run_ingested silenced so no detection runs after them. Several trees given with
--tree are measured in turn, in separate processes, alternating rounds.
Prints medians with their spread (p25-p75) and the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "roofwatch_ingest_cpu"  # kept between the child processes of one run, dropped at its end


def setup_django(tree: Path, scratch_db: str) -> None:
    sys.path[:0] = [str(tree / "platform"), str(tree)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "roofwatch.settings")
    os.environ.setdefault("DEBUG", "1")
    import django
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"]["TEST"].update(NAME=scratch_db)  # not the tests' database
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("set DATABASE_URL to a PostgreSQL database (COPY is what this measures)")
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True)


def uploader():
    """(machine, upload(body, machine) for one report, upload_batch(bodies, machine)) for this tree's
    ingest API. Pass the machine as the token authentication gives it: read afresh for each request."""
    from fleet.models import Machine
    from results import ingest, report_parser

    machine, _ = Machine.objects.update_or_create(name="bench-ingest-cpu", defaults={"may_create_projects": True})
    if hasattr(report_parser, "decode_report"):  # msgspec: the views pass bytes
        def one(body, machine):
            return ingest.ingest_report(body, machine)

        def many(bodies, machine):
            return ingest.ingest_reports(report_parser.decode_batch(bodies), machine)
    else:  # before: the parser made Python values, the serializers validated them
        from results.serializers import batch_reports

        parse = report_parser.ReportJSONParser().parse

        def one(body, machine):
            return ingest.ingest_report(_parsed(parse, body), machine)

        def many(bodies, machine):
            return ingest.ingest_reports(batch_reports(_parsed(parse, bodies)), machine)

    ingest.send_runs_ingested = lambda *args, **kwargs: None  # no detection or catalogue after the commit
    return machine, one, many


def _parsed(parse, body: bytes):
    import io
    return parse(io.BytesIO(body), "application/json", {})


def report_body(layers: int, fingerprint: str) -> dict:
    from tests.report_factory import make_report
    return make_report(layers=layers, fidelity=True, fingerprint=fingerprint, idempotency_key=str(uuid.uuid4()))


def measure(rounds: int) -> dict:
    """{case: [µs of CPU per layer row, per round]} plus the one report's wall times."""
    machine, one, many = uploader()
    machine.fingerprint = ""
    machine.save()
    fingerprint = report_body(1, "fp-bench")["machine"]["fingerprint"]
    one(json.dumps(report_body(100, fingerprint)).encode(), machine)  # warm: caches, the machine adopts its fingerprint
    results: dict[str, list[float]] = {"report (100 layers)": [], "batch (50 x 100 layers)": [], "wall_ms": []}
    for _ in range(rounds):
        body = json.dumps(report_body(100, fingerprint)).encode()
        machine.refresh_from_db()  # untimed: the authentication's read, as a request gets it
        cpu, wall = time.process_time(), time.perf_counter()
        one(body, machine)
        results["wall_ms"].append((time.perf_counter() - wall) * 1e3)
        results["report (100 layers)"].append((time.process_time() - cpu) * 1e6 / 100)
        batch = json.dumps({"reports": [report_body(100, fingerprint) for _ in range(50)]}).encode()
        machine.refresh_from_db()
        cpu = time.process_time()
        many(batch, machine)
        results["batch (50 x 100 layers)"].append((time.process_time() - cpu) * 1e6 / 5000)
    return results


def measure_copy(rounds: int) -> dict:
    """µs of CPU per layer row of the COPY alone: binary (psycopg write_row) vs preformatted text."""
    from django.db import connection, transaction

    from results.layer_rows import COPY_COLUMNS, copy_layer_rows, copy_rows
    from results.models import Run
    from results.report_parser import decode_report

    machine, _, _ = uploader()
    body = json.dumps(report_body(100, machine.fingerprint or "fp-bench")).encode()
    layers = decode_report(body).layers * 50  # 5,000 rows
    text_sql = "COPY results_layermeasurement (" + ", ".join(f'"{c}"' for c in COPY_COLUMNS) + ") FROM STDIN"
    results: dict[str, list[float]] = {"binary COPY (write_row)": [], "text COPY (preformatted)": []}
    for _ in range(rounds):
        with transaction.atomic():
            run = _some_run(Run, machine)
            for name, write in (("binary COPY (write_row)", lambda: copy_layer_rows(_renumbered(copy_rows(run, layers)))),
                                ("text COPY (preformatted)", lambda: _text_copy(connection, text_sql, run, layers))):
                with transaction.atomic():
                    cpu = time.process_time()
                    write()
                    results[name].append((time.process_time() - cpu) * 1e6 / len(layers))
                    transaction.set_rollback(True)
            transaction.set_rollback(True)
    return results


def _some_run(Run, machine):
    from results.ingest import ingest_report
    return ingest_report(report_body(1, machine.fingerprint or "fp-bench"), machine)[0]  # a fresh machine adopts it


def _renumbered(rows):
    return [(*row[:6], i, *row[7:]) for i, row in enumerate(rows, 1000)]  # index is unique per run


def _text_copy(connection, sql, run, layers):
    """The text COPY ingest used before (results.layer_rows.copy_text), on Structs."""
    escapes = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

    def text(value):
        return value.translate(escapes) if "\\" in value or not value.isprintable() else value

    def optional(value):
        return "\\N" if value is None else text(value) if isinstance(value, str) else repr(value)

    head = f"{run.pk}\t{run.machine_id}\t{run.benchmark_id}\t{run.started_at.isoformat()}\t"
    lines = []
    for i, layer in enumerate(layers, 1000):
        t = layer.time
        lines.append(
            f"{head}{text(layer.name)}\t{text(layer.op)}\t{i}\t{text(json.dumps(layer.sources))}\t"
            f"{layer.flops}\t{layer.bytes}\t{t.median!r}\t{t.p25!r}\t{t.p75!r}\t{t.min!r}\t{t.n}\t"
            f"{optional(t.ci_low)}\t{optional(t.ci_high)}\t{layer.gflops!r}\t{layer.gbs!r}\t{layer.ai!r}\t"
            f"{text(layer.bound)}\t{optional(layer.threads)}\t{optional(layer.roof)}\t"
            f"{optional(layer.roof_gflops)}\t{optional(layer.roof_gbs)}\t{optional(layer.kernel_bytes)}\t"
            f"{optional(layer.work_unknown)}\n"
        )
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        copy.write("".join(lines))


def spread(values: list[float]) -> str:
    q = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return f"{statistics.median(values):8.2f}  ({q[0]:.2f}-{q[2]:.2f})"


def child(args) -> None:
    setup_django(Path(args.child), args.scratch_db)
    result = measure_copy(args.rounds) if args.copy else measure(args.rounds)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", help="a checkout to measure (default: this one); repeatable")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--blocks", type=int, default=3, help="processes per tree, alternating")
    parser.add_argument("--copy", action="store_true", help="only the layer COPY, binary vs text (this tree)")
    parser.add_argument("--scratch-db", default=SCRATCH_DB, help=f"the database uploads go to (default {SCRATCH_DB})")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    trees = [str(ROOT)] if args.copy else (args.tree or [str(ROOT)])
    if args.tree and not args.copy and str(ROOT) not in trees:
        trees.insert(0, str(ROOT))
    merged: dict[str, dict[str, list[float]]] = {tree: {} for tree in trees}
    load_before = os.getloadavg()
    try:
        for _ in range(args.blocks):
            for tree in trees:
                out = subprocess.run([sys.executable, __file__, "--child", tree, "--rounds", str(args.rounds),
                                      "--scratch-db", args.scratch_db]
                                     + (["--copy"] if args.copy else []),
                                     check=True, capture_output=True, text=True, cwd=tree).stdout
                for case, values in json.loads(out.strip().splitlines()[-1]).items():
                    merged[tree].setdefault(case, []).extend(values)
    finally:
        from platform_ingest import drop_database, size_text

        url = os.environ.get("DATABASE_URL", "")
        if url.startswith("postgres"):
            print(f"dropped database {args.scratch_db} ({size_text(drop_database(url, args.scratch_db, force=True))})")
    print(f"load average before: {load_before}")
    for tree, cases in merged.items():
        print(f"\n{tree}  (median (p25-p75) of {args.blocks} x {args.rounds} rounds)")
        for case, values in cases.items():
            unit = "ms wall, one 100-layer report" if case == "wall_ms" else "µs CPU / layer row"
            print(f"  {case:28s} {spread(values)}  {unit}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
