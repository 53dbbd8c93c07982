"""Leases are never left dangling: a lost lease stops the job's engine run
(nothing uploaded), SIGTERM gives a running job back (release), and a job held
when the agent was killed is given back at the next start, unless its outcome
was already kept (a spooled report) — by the lease alone when the agent was
killed during the claim request (it chose and recorded the lease first)."""
import json
import signal

from agents import daemon
from agents.held_job import HeldJob
from agents.jobs_client import JobsClient, new_lease
from agents.spool import Spool

from .agent_process import start_daemon, stop, wait_for
from .conftest import make_report, write_agent_config
from .daemon_helpers import run_agent_until

CONFIG = "[schedule]\npoll_seconds = 0.05\nlease_seconds = 3600\n[quiet]\nmax_wait_seconds = 0\n"


class FastHeartbeat(daemon.Heartbeat):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.every = 0.1


def test_a_lost_lease_kills_the_engine_run_and_uploads_nothing(ingest, token, tmp_path, monkeypatch):
    ledger = tmp_path / "ledger"
    monkeypatch.setenv("FAKE_ENGINE_LEDGER", str(ledger))
    monkeypatch.setenv("FAKE_ENGINE_SLEEP", "60")
    monkeypatch.setattr(daemon, "Heartbeat", FastHeartbeat)
    job = ingest.add_job("mlp")
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool", extra=CONFIG)
    taken = {}

    def lease_taken_and_run_stopped():
        if not taken and ingest.jobs[job].heartbeats:  # running: another holder takes the job over
            ingest.expire_lease(job)
            taken["lease"] = JobsClient(ingest.url, token).claim(30).lease
        return taken and not HeldJob(tmp_path / "spool").path.exists()

    run_agent_until(cfg, lease_taken_and_run_stopped, timeout=20)
    assert not ledger.exists()  # the engine was killed, not left to measure for 60 s
    assert ingest.runs == {} and ingest.jobs[job].completions == [] and ingest.jobs[job].releases == 0
    assert ingest.jobs[job].lease == taken["lease"]  # the new holder's lease is untouched


def test_sigterm_past_the_grace_period_releases_the_job_at_once(ingest, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SLEEP", "60")
    job = ingest.add_job("mlp")
    spool = tmp_path / "spool"
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, spool,
                             extra=CONFIG + "[daemon]\nstop_grace_seconds = 0.2\n")
    log = tmp_path / "agent.log"
    proc = start_daemon(cfg, log)
    wait_for(lambda: "event=job_claimed" in log.read_text(), proc=proc, what="claim")
    assert stop(proc, signal.SIGTERM) == 0
    assert ingest.jobs[job].status == "queued" and ingest.jobs[job].releases == 1
    assert "event=job_released job=1 reason=stopping" in log.read_text()
    assert not HeldJob(spool).path.exists()


def test_a_job_held_by_a_killed_agent_is_released_at_the_next_start_and_run_again(ingest, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_ENGINE_SLEEP", "60")
    job = ingest.add_job("mlp")
    spool = tmp_path / "spool"
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, spool, extra=CONFIG)
    log = tmp_path / "agent.log"
    proc = start_daemon(cfg, log)
    # the job's id is recorded just after the claim's log line: wait for it, not the line
    wait_for(lambda: (HeldJob(spool).read() or {}).get("id") == job, proc=proc, what="the job held")
    stop(proc, signal.SIGKILL)
    assert HeldJob(spool).read() == {"id": job, "lease": ingest.jobs[job].lease}

    monkeypatch.setenv("FAKE_ENGINE_SLEEP", "0")
    proc = start_daemon(cfg, log)  # the lease has an hour left: only a release lets the job run now
    wait_for(lambda: ingest.jobs[job].status == "done", proc=proc, what="job done")
    assert stop(proc) == 0
    assert ingest.jobs[job].releases == 1 and ingest.jobs[job].claims == 2
    assert "event=job_released job=1 reason=restart" in log.read_text()


def test_a_held_job_whose_report_is_spooled_is_completed_not_released(ingest, token, tmp_path):
    job = ingest.add_job("mlp")
    lease = JobsClient(ingest.url, token).claim(3600).lease
    spool = Spool(tmp_path / "spool")
    spool.put(make_report("k1"), "k1", meta={"job": {"id": job, "lease": lease}, "conditions": {}})
    HeldJob(spool.path).hold(job, lease)  # killed after spooling, before forgetting the job
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, spool.path, extra=CONFIG)
    held = HeldJob(spool.path).path
    # the server marks the job done before the agent forgets it: wait for both (a stop
    # in between would leave the file for the next start to settle)
    run_agent_until(cfg, lambda: ingest.jobs[job].status == "done" and not held.exists())
    assert ingest.jobs[job].releases == 0 and ingest.jobs[job].claims == 1
    assert json.loads(ingest.runs["k1"][1])["idempotency_key"] == "k1"


def test_an_agent_killed_during_the_claim_request_releases_the_job_by_its_lease_at_the_next_start(ingest, tmp_path):
    job = ingest.add_job("mlp")
    spool = tmp_path / "spool"
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, spool, extra=CONFIG)
    log = tmp_path / "agent.log"
    ingest.claim_delay = 10.0  # the server claims the job, then holds its answer past the kill
    proc = start_daemon(cfg, log)
    wait_for(lambda: ingest.jobs[job].status == "claimed", proc=proc, what="the job claimed")
    stop(proc, signal.SIGKILL)
    assert "event=job_claimed" not in log.read_text()  # the agent never learnt the job
    assert HeldJob(spool).read() == {"id": None, "lease": ingest.jobs[job].lease}  # chosen and kept before asking

    ingest.claim_delay = 0.0
    proc = start_daemon(cfg, log)  # the lease has an hour left: only a release lets the job run now
    wait_for(lambda: ingest.jobs[job].status == "done", proc=proc, what="job done")
    assert stop(proc) == 0
    assert ingest.jobs[job].lease_releases == 1 and ingest.jobs[job].claims == 2
    assert "event=job_released job=1 reason=claim_interrupted" in log.read_text()
    assert not HeldJob(spool).path.exists()


def test_a_held_lease_that_got_no_job_is_forgotten_and_the_agent_claims_on(ingest, tmp_path):
    job = ingest.add_job("mlp")
    spool = Spool(tmp_path / "spool")
    HeldJob(spool.path).hold(None, new_lease())  # killed before the claim reached the server
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, spool.path, extra=CONFIG)
    run_agent_until(cfg, lambda: ingest.jobs[job].status == "done")
    assert ingest.jobs[job].releases == 0 and ingest.jobs[job].claims == 1
    assert [path for path, _, _ in ingest.requests[:2]] == ["/api/v1/jobs/release", "/api/v1/jobs/claim"]
    assert not HeldJob(spool.path).path.exists()


def test_the_lease_of_a_failed_claim_is_released_before_the_next_claim_under_a_new_lease(ingest, tmp_path):
    job = ingest.add_job("mlp")
    ingest.answer_next(503)  # for all the agent knows, the server may have claimed a job under that lease
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool", extra=CONFIG)
    run_agent_until(cfg, lambda: ingest.jobs[job].status == "done")
    calls = [(path, json.loads(body)) for path, _, body in ingest.requests if path.startswith("/api/v1/jobs/")]
    (claim, first), (release, released), (claim_again, second) = calls[:3]
    assert (claim, release, claim_again) == ("/api/v1/jobs/claim", "/api/v1/jobs/release", "/api/v1/jobs/claim")
    assert released["lease"] == first["lease"] != second["lease"]
    assert first["lease"].startswith("rwl_") and len(first["lease"]) >= 40
    assert ingest.jobs[job].completions[0]["lease"] == second["lease"]
