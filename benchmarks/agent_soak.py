"""Soak: jobs flowing to one agent through a server outage and 20 kill -9s.

    .venv/bin/python benchmarks/agent_soak.py [--outage-seconds 600] [--kills 20] [--jobs 40]
    .venv/bin/python benchmarks/agent_soak.py --short      # 30 s outage, 20 kills: a quick check

The platform runs as in production (gunicorn on loopback, PostgreSQL database
roofwatch_agent_soak, created and migrated when missing, its jobs and runs of
earlier invocations deleted first; the Celery broker of --broker-url) behind
tests/agents/platform_proxy.py on loopback. The agent is the real daemon
process with the fake engine (tests/agents/fake_engine.py: about a second per
run), leases of an hour, so only a release can put a job back in the queue.
Phases: the agent runs and is killed with SIGKILL --kills times at random
points; the server answers 503, then hangs, then refuses connections, for
--outage-seconds in all, while the agent keeps running; then it comes back
and the agent drains. Printed, never asserted: reports lost (spooled but not
stored), duplicated (more runs than jobs, or a job with two runs), and jobs
left on a dead lease (claimed, with nobody running them) once the agent is
back and idle.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "platform"), str(REPO / "benchmarks")]

from platform_ingest import Server, ensure_database, queued_tasks, setup_django  # noqa: E402

from tests.agents.agent_process import spooled_keys, start_daemon, stop  # noqa: E402
from tests.agents.conftest import write_agent_config  # noqa: E402
from tests.agents.platform_proxy import PlatformProxy  # noqa: E402

CONFIG = ("[schedule]\npoll_seconds = 0.2\nmax_backoff_seconds = 2\nlease_seconds = 3600\n"
          "[quiet]\nmax_wait_seconds = 0\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage-seconds", type=float, default=600.0)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--short", action="store_true", help="a 30 s outage (still --kills kills)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/roofwatch_agent_soak")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    outage = 30.0 if args.short else args.outage_seconds
    ensure_database(args.database_url)
    env = {**setup_django(args.database_url, args.broker_url), "ROOFWATCH_HTTPS": "0"}  # plain http on loopback
    from fleet.models import KIND_SCHEDULE, Job, Machine
    from results.models import Run

    machine, _ = Machine.objects.get_or_create(name="soak-agent")
    Run.objects.filter(machine=machine).delete()
    Job.objects.filter(machine=machine).delete()
    Machine.objects.filter(pk=machine.pk).update(fingerprint="", all_projects=True)  # the fake reports' repository
    ids = [Job.objects.create(machine=machine, kind=KIND_SCHEDULE, model="mlp", params={"batch": 8}, warmup=0,
                              repeats=1).pk for _ in range(args.jobs)]
    server = Server(REPO, env, workers=2)
    proxy = PlatformProxy(server.base)
    work = Path(tempfile.mkdtemp(prefix="roofwatch-soak-"))
    os.environ.update(FAKE_ENGINE_SLEEP="0.5", FAKE_ENGINE_SLEEP_MAX="1", FAKE_ENGINE_LEDGER=str(work / "ledger"))
    cfg = write_agent_config(work / "agent.toml", proxy.url, work / "spool", token=machine.rotate_token(),
                             extra=CONFIG)
    log = work / "agent.log"
    start = time.monotonic()
    try:
        kill_loop(cfg, log, args.kills, random.Random(args.seed))
        proc = start_daemon(cfg, log)
        play_outage(proxy, outage)
        done = drain(ids, Job, proc, timeout=max(300.0, 3 * args.jobs))
        stop(proc)
    finally:
        proxy.close()
        server.stop()
        queued_tasks(args.broker_url, purge=True)
    report(ids, machine, log, work, Job, Run, done, time.monotonic() - start, outage, args.kills)
    return 0


def kill_loop(cfg: Path, log: Path, kills: int, rng: random.Random) -> None:
    for _ in range(kills):
        proc = start_daemon(cfg, log)
        time.sleep(rng.uniform(0.5, 3.0))  # into a claim, a run, a spool write, an upload or a completion
        stop(proc, signal.SIGKILL)


def play_outage(proxy: PlatformProxy, seconds: float) -> None:
    third = seconds / 3
    proxy.mode = "503"
    time.sleep(third)
    proxy.mode, proxy.hang_seconds = "hang", 5.0
    time.sleep(third)
    proxy.refuse()
    time.sleep(third)
    proxy.mode = "pass"
    proxy.listen()


def drain(ids: list[int], Job, proc, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if not Job.objects.filter(pk__in=ids, status__in=["queued", "claimed"]).exists():
            return True
        time.sleep(1)
    return False


def report(ids, machine, log, work, Job, Run, done, seconds, outage, kills) -> None:
    runs = Run.objects.filter(machine=machine)
    stored = {str(k) for k in runs.values_list("idempotency_key", flat=True)}
    jobs = list(Job.objects.filter(pk__in=ids))
    per_job = [j.run_id for j in jobs if j.run_id]
    print(f"outage {outage:g} s (503, hang, refused: a third each), {kills} kill -9s, {len(ids)} jobs, "
          f"{seconds:.0f} s in all; work dir {work}")
    print(f"jobs: done {sum(j.status == 'done' for j in jobs)}, failed {sum(j.status == 'failed' for j in jobs)}, "
          f"queued {sum(j.status == 'queued' for j in jobs)}, claimed {sum(j.status == 'claimed' for j in jobs)}"
          f"{'' if done else ' (drain timed out)'}")
    print(f"reports lost: {len(spooled_keys(log) - stored)}")
    print(f"reports duplicated: {max(0, runs.count() - len(ids)) + len(per_job) - len(set(per_job))}")
    print(f"jobs waiting on a dead lease: {sum(j.status == 'claimed' for j in jobs)}")
    text = log.read_text()
    by_lease = len(re.findall(r"event=job_released job=\d+ reason=claim_interrupted", text))
    print(f"releases: at restart {text.count('reason=restart')}, by the lease of a claim the kill cut short "
          f"{by_lease} (leases that got no job: {text.count('event=claim_lease_unused')}), refused "
          f"{text.count('event=job_release_refused')}")


if __name__ == "__main__":
    sys.exit(main())
