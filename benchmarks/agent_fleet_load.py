"""50 agents uploading to one server for 60 s: every report stored once, no errors.

    .venv/bin/python benchmarks/agent_fleet_load.py [--agents 50] [--seconds 60] [--layers 20] [--workers 3]

The server runs as in production: gunicorn on loopback, PostgreSQL (database
roofwatch_agent_load, created and migrated when missing; runs of earlier
invocations are deleted first), and the Celery broker of --broker-url
(default Redis db 9; the queue is emptied afterwards). Each agent is its own
process with its own machine, token and spool, and runs the agent's real
code path in a loop: Spool.put (temp file, fsync, rename) then client.flush
(upload with backoff and jitter, ack on 200/201). After --seconds every agent
drains its spool, and the database is checked: each report's idempotency_key
stored exactly once, for the right machine. Figures are printed, never asserted;
the machine is shared and noisy, so read them as orders of magnitude.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "platform"), str(REPO / "benchmarks")]

from platform_ingest import (  # noqa: E402  (the ingest benchmark's server and database helpers)
    Server,
    ensure_database,
    load_average,
    percentile,
    queued_tasks,
    setup_django,
)


def agent(index: int, server: str, token: str, body_head: str, body_tail: str, seconds: float,
          spool_root: str, out: multiprocessing.Queue) -> None:
    from agents.client import flush
    from agents.spool import Spool

    spool = Spool(Path(spool_root) / f"agent-{index}")
    keys, latencies, retries, errors, rejected = [], [], 0, [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        key = str(uuid.uuid4())
        spool.put(f"{body_head}{key}{body_tail}", key)
        keys.append(key)
        start = time.perf_counter()
        summary = flush(spool, server, token, max_attempts=8, base_delay=0.2, max_delay=5.0)
        latencies.append(time.perf_counter() - start)
        retries += summary.attempts - len(summary.uploaded)
        rejected += len(summary.rejected)
        if summary.remaining or summary.rejected:
            errors.append(summary.last_error)
    drain = flush(spool, server, token, max_attempts=20, base_delay=0.5, max_delay=5.0)  # what is left
    out.put({"index": index, "keys": keys, "latencies": latencies, "retries": retries, "errors": errors,
             "rejected": rejected + len(drain.rejected), "left": drain.remaining})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/roofwatch_agent_load")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--layers", type=int, default=20, help="layers per report")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (compose's default)")
    args = parser.parse_args()

    print(f"start: {load_average()}")
    created = ensure_database(args.database_url)
    print(f"database: {'created' if created else 'reused'}")
    env = setup_django(args.database_url, args.broker_url)
    queued_tasks(args.broker_url, purge=True)
    from django.db import connections

    from fleet.models import Machine
    from results.models import Run
    from tests.report_factory import make_report

    Run.objects.filter(machine__name__startswith="load-agent-").delete()
    tokens, bodies = [], []
    for i in range(args.agents):
        machine, _ = Machine.objects.get_or_create(name=f"load-agent-{i}")
        tokens.append(machine.rotate_token())
        report = make_report(fingerprint=f"load-agent-fp-{i}", model="load-mlp", layers=args.layers)
        report["idempotency_key"] = "KEY"
        bodies.append(json.dumps(report).split('"KEY"'))
    connections.close_all()  # the agents fork next; they speak HTTP only

    server = Server(REPO, env, workers=args.workers)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="roofwatch-load-") as spool_root:
            out: multiprocessing.Queue = multiprocessing.Queue()
            procs = [multiprocessing.Process(target=agent, args=(
                i, server.base, tokens[i], bodies[i][0] + '"', '"' + bodies[i][1], args.seconds, spool_root, out))
                for i in range(args.agents)]
            start = time.monotonic()
            for p in procs:
                p.start()
            for _ in procs:
                results.append(out.get(timeout=args.seconds + 600))
            for p in procs:
                p.join(timeout=60)
            wall = time.monotonic() - start
    finally:
        server.stop()
    waiting = queued_tasks(args.broker_url, purge=True)

    keys = [k for r in results for k in r["keys"]]
    stored = {}
    for run in Run.objects.filter(machine__name__startswith="load-agent-").values("idempotency_key",
                                                                                  "machine__name"):
        stored[str(run["idempotency_key"])] = run["machine__name"]
    stored_rows = Run.objects.filter(machine__name__startswith="load-agent-").count()
    wrong_machine = sum(1 for r in results for k in r["keys"] if stored.get(k) != f"load-agent-{r['index']}")
    missing = sum(1 for k in keys if k not in stored)
    latencies = [x for r in results for x in r["latencies"]]
    errors = [e for r in results for e in r["errors"]]

    print(f"end: {load_average()}")
    print()
    print(f"agents                        {args.agents} processes, {args.seconds:.0f} s each "
          f"(+ drain; wall {wall:.1f} s), gunicorn x{args.workers}, PostgreSQL")
    print(f"reports spooled               {len(keys)} ({len(keys) / args.seconds:.1f}/s), {args.layers} layers each")
    print(f"runs stored                   {stored_rows} rows, {len(stored)} distinct keys")
    print(f"missing / duplicated / wrong  {missing} / {stored_rows - len(stored)} / {wrong_machine - missing}")
    print(f"upload errors (gave up)       {len(errors)}; rejected {sum(r['rejected'] for r in results)}; "
          f"left in spools {sum(r['left'] for r in results)}")
    print(f"retried requests              {sum(r['retries'] for r in results)} (429/5xx/connection, then OK)")
    if latencies:
        print(f"spool+upload per report       p50 {percentile(latencies, 50) * 1e3:.0f} ms, "
              f"p95 {percentile(latencies, 95) * 1e3:.0f} ms, max {max(latencies) * 1e3:.0f} ms")
    print(f"post-commit tasks left queued {waiting} (emptied; no worker ran)")
    if errors:
        print("first errors:", *sorted(set(errors))[:5], sep="\n  ")


if __name__ == "__main__":
    main()
