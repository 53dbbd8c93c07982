"""kill -9 of the agent at random points of run, spool and upload, many times:
no report lost, none stored twice, no corrupt spool file, each job completed once."""
import random
import signal
import time

from agents.cli import main
from agents.spool import Spool

from .agent_process import check_spool_files, spooled_keys, start_daemon, stop, wait_for
from .conftest import write_agent_config

KILLS = 12
TIME_BOUND = 40.0
CONFIG = ("[schedule]\npoll_seconds = 0.05\ninterval_seconds = 0.1\nmax_backoff_seconds = 0.5\nlease_seconds = 30\n"
          '[[benchmarks]]\nmodel = "mlp"\n')


def test_kill_nine_at_random_points_loses_and_duplicates_nothing(ingest, tmp_path, monkeypatch):
    rng = random.Random(7)
    ledger = tmp_path / "ledger"
    monkeypatch.setenv("FAKE_ENGINE_LEDGER", str(ledger))
    monkeypatch.setenv("FAKE_ENGINE_SLEEP_MAX", "0.3")
    ingest.upload_delay = 0.2
    jobs = [ingest.add_job("mlp") for _ in range(4)]
    spool = tmp_path / "spool"
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, spool, extra=CONFIG)
    log = tmp_path / "agent.log"
    seen_spooled: set[str] = set()
    start = time.monotonic()
    kills = 0
    while kills < KILLS and time.monotonic() - start < TIME_BOUND:
        started = log.read_text().count("event=daemon_started") if log.exists() else 0
        proc = start_daemon(cfg, log)
        wait_for(lambda: log.read_text().count("event=daemon_started") > started, proc=proc, what="start")
        time.sleep(rng.uniform(0.05, 1.5))  # into claim, engine run, spool, upload or completion
        stop(proc, signal.SIGKILL)
        kills += 1
        check_spool_files(spool)
        seen_spooled |= {Spool.key_of(p) for p in Spool(spool, create=False).pending()}
    assert kills >= 8, f"only {kills} kills in {TIME_BOUND} s"

    for job in jobs:  # a job killed before its report was spooled is claimable again once its lease ran out
        if ingest.jobs[job].status == "claimed":
            ingest.expire_lease(job)
    started = log.read_text().count("event=daemon_started")
    proc = start_daemon(cfg, log)
    # started first: with released jobs run again at once, all may be done already, before the SIGTERM handler
    wait_for(lambda: log.read_text().count("event=daemon_started") > started and all(
             ingest.jobs[j].status == "done" for j in jobs) and not Spool(spool).pending()
             and not list((spool / "outbox").glob("*.json")), timeout=30, proc=proc, what="every job done")
    assert stop(proc) == 0
    assert main(["flush", "--config", str(cfg)]) == 0
    check_spool_files(spool)

    produced = ledger.read_text().split()
    stored = set(ingest.runs)
    assert seen_spooled | spooled_keys(log) <= stored  # every report that reached the spool arrived
    assert stored <= set(produced) and len(produced) == len(set(produced))
    run_ids = [run_id for run_id, _ in ingest.runs.values()]
    assert len(run_ids) == len(set(run_ids)) == len(stored)  # one run per report
    for job in jobs:
        [completion] = ingest.jobs[job].completions  # completed exactly once
        assert completion["run"] in run_ids
