"""The agent daemon (a real process, the fake engine) against the real
platform (live server on PostgreSQL) behind a loopback proxy the test
controls: kill -9 mid-job, mid-upload and inside the claim request (the server
granted the lease, the agent never learnt the job: it chose and recorded the
lease first, and releases by it), a 503/hang/refused outage, a full spool.
Leases are an hour long, so a job only runs again if it was released: a
dangling lease would stall the test instead of expiring."""
import random
import resource
import signal
import time

import pytest
from django.db import connection

from agents.held_job import HeldJob
from fleet.models import KIND_SCHEDULE, Job, Machine, hash_token
from results.models import Run
from tests.agents.agent_process import spooled_keys, start_daemon, stop, wait_for
from tests.agents.conftest import write_agent_config
from tests.agents.platform_proxy import PlatformProxy
from tests.conftest import need_service

CONFIG = ("[schedule]\npoll_seconds = 0.05\nmax_backoff_seconds = 0.5\nlease_seconds = 3600\n"
          "[quiet]\nmax_wait_seconds = 0\n[daemon]\nspool_reserve_mb = 0\n")
KILLS = 12
TIME_BOUND = 60.0


@pytest.fixture
def platform(transactional_db, live_server, tmp_path, monkeypatch):
    """(proxy, machine, agent config, log, ledger of the engine's reports)."""
    if connection.vendor != "postgresql":
        need_service(f"the live reliability tests need PostgreSQL, the test database is {connection.vendor}")
    machine = Machine.objects.create(name="live-agent")
    proxy = PlatformProxy(live_server.url)
    ledger = tmp_path / "ledger"
    monkeypatch.setenv("FAKE_ENGINE_LEDGER", str(ledger))
    cfg = write_agent_config(tmp_path / "agent.toml", proxy.url, tmp_path / "spool", token=machine.rotate_token(),
                             extra=CONFIG)
    procs, start = [], start_daemon

    def tracked_daemon(*args, **kwargs):
        procs.append(start(*args, **kwargs))
        return procs[-1]

    monkeypatch.setitem(globals(), "start_daemon", tracked_daemon)
    yield proxy, machine, cfg, tmp_path / "agent.log", ledger
    for proc in procs:  # a failed test leaves no agent running
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    proxy.close()


def make_jobs(machine, n):
    return [Job.objects.create(machine=machine, kind=KIND_SCHEDULE, model="mlp", params={"batch": 8}, warmup=0,
                               repeats=1).pk for _ in range(n)]


def statuses(ids):
    return list(Job.objects.filter(pk__in=ids).order_by("pk").values_list("status", flat=True))


def started(log, proc, before):
    wait_for(lambda: log.read_text().count("event=daemon_started") > before, proc=proc, what="start")


def assert_each_job_done_once(machine, ids, ledger, log):
    jobs = list(Job.objects.filter(pk__in=ids))
    assert all(j.status == "done" and j.run_id and j.lease_hash == "" and j.lease_expires for j in jobs)
    runs = Run.objects.filter(machine=machine)
    keys = {str(k) for k in runs.values_list("idempotency_key", flat=True)}
    assert runs.count() == len(ids) == len({j.run_id for j in jobs})  # one run per job, none twice
    assert spooled_keys(log) <= keys <= set(ledger.read_text().split())  # all that was spooled arrived


def _read_or_empty(path) -> bytes:
    """The file's bytes, or b"" when it is not there (the agent deletes .held-job when a claim finds no job)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def test_kill_nine_mid_job_and_mid_upload_loses_nothing_and_leaves_no_lease(platform, monkeypatch):
    proxy, machine, cfg, log, ledger = platform
    monkeypatch.setenv("FAKE_ENGINE_SLEEP", "1")  # a kill up to 0.3 s after the hold lands in the run
    ids = make_jobs(machine, 6)
    rng = random.Random(11)
    log.touch()
    held = cfg.parent / "spool" / ".held-job"
    kills, start = 0, time.monotonic()
    while kills < KILLS and time.monotonic() - start < TIME_BOUND and "queued" in statuses(ids):
        proxy.upload_hold = 1.0 if kills % 2 else 0.0  # every other kill: between the store and the ack
        proc = start_daemon(cfg, log)
        started(log, proc, log.read_text().count("event=daemon_started"))
        # Mid-upload (the server stored the report, the agent has not heard), or once the agent
        # holds a new lease (<spool>/.held-job): inside its claim request or in the job.
        before = _read_or_empty(held)
        wait_for(lambda: proxy.uploads_held or _read_or_empty(held) not in (b"", before),
                 proc=proc, what="an upload or a newly held job")
        time.sleep(rng.uniform(0, 0.3) if not proxy.uploads_held else 0)
        stop(proc, signal.SIGKILL)
        kills += 1
    assert kills >= 8, f"only {kills} kills in {TIME_BOUND} s"
    assert "event=job_released" in log.read_text()

    proxy.upload_hold = 0.0
    proc = start_daemon(cfg, log)
    started(log, proc, log.read_text().count("event=daemon_started") - 1)
    wait_for(lambda: set(statuses(ids)) == {"done"}, timeout=60, proc=proc, what="every job done")
    assert stop(proc) == 0
    assert_each_job_done_once(machine, ids, ledger, log)


def test_kill_nine_inside_the_claim_request_leaves_no_job_on_a_dead_lease(platform, monkeypatch):
    proxy, machine, cfg, log, ledger = platform
    monkeypatch.setenv("FAKE_ENGINE_SLEEP", "0")
    ids = make_jobs(machine, 3)
    held = HeldJob(cfg.parent / "spool")
    proxy.claim_hold = 30.0  # the server claims a job; its answer is held past the kill
    leases = []

    def granted_but_unheard():
        lease = (held.read() or {}).get("lease")
        return lease not in (None, *leases) and Job.objects.filter(
            pk__in=ids, status="claimed", lease_hash=hash_token(lease)).exists()

    for _ in range(2):  # the second start releases the first dead lease, then claims and dies again
        proc = start_daemon(cfg, log)
        wait_for(granted_but_unheard, proc=proc, what="a job claimed under the recorded lease")
        stop(proc, signal.SIGKILL)
        assert held.read()["id"] is None and statuses(ids).count("claimed") == 1
        leases.append(held.read()["lease"])
    assert "event=job_claimed" not in log.read_text()  # the agent never learnt a job

    proxy.claim_hold = 0.0
    proc = start_daemon(cfg, log)
    wait_for(lambda: set(statuses(ids)) == {"done"}, timeout=60, proc=proc, what="every job done")
    assert stop(proc) == 0
    assert log.read_text().count("event=job_released job=") == 2
    assert log.read_text().count("reason=claim_interrupted") == 2
    assert set(Job.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}  # releases not counted
    assert_each_job_done_once(machine, ids, ledger, log)


def test_503_then_a_hang_then_refused_connections_and_everything_is_delivered_after(platform, monkeypatch):
    proxy, machine, cfg, log, ledger = platform
    monkeypatch.setenv("FAKE_ENGINE_SLEEP", "1")
    ids = make_jobs(machine, 2)
    proc = start_daemon(cfg, log)
    wait_for(lambda: "event=job_claimed" in log.read_text(), proc=proc, what="claim")
    proxy.hang_seconds = 0.5
    for mode in ("503", "hang", "refuse"):  # the job's report and completion meet each
        seen = log.read_text().count("event=backoff")
        if mode == "refuse":
            proxy.refuse()
        else:
            proxy.mode = mode
        wait_for(lambda: log.read_text().count("event=backoff") >= seen + 2, timeout=30, proc=proc, what=mode)
    proxy.mode = "pass"
    proxy.listen()
    wait_for(lambda: set(statuses(ids)) == {"done"}, timeout=60, proc=proc, what="every job done")
    assert stop(proc) == 0
    text = log.read_text()
    assert "HTTP 503" in text and "cannot connect" in text
    assert_each_job_done_once(machine, ids, ledger, log)


def _file_size_limit():
    """In the agent: writes past 2000 bytes fail with EFBIG, as ENOSPC would on a full disk
    (a report is about 3 KB; a job's completion entry fits)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, resource.RLIM_INFINITY))


def test_a_full_spool_fails_the_job_clearly_and_wastes_no_run_until_room_returns(platform):
    proxy, machine, cfg, log, ledger = platform
    first, second = make_jobs(machine, 2)
    proc = start_daemon(cfg, log, preexec=_file_size_limit)
    wait_for(lambda: statuses([first]) == ["failed"] and "event=spool_full" in log.read_text(), proc=proc,
             what="the first job failed")
    job = Job.objects.get(pk=first)
    assert "could not spool the report" in job.error and "File too large" in job.error
    time.sleep(1.0)  # some 20 rounds of the loop with no room: none may claim or run
    assert Job.objects.get(pk=second).status == "queued" and Job.objects.get(pk=second).attempts == 0
    assert len(ledger.read_text().split()) == 1

    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    wait_for(lambda: statuses([second]) == ["done"], timeout=30, proc=proc, what="the second job done")
    assert stop(proc) == 0
    assert log.read_text().count("event=spool_full") == 1 and "event=spool_room" in log.read_text()
    assert len(ledger.read_text().split()) == 2 and Run.objects.filter(machine=machine).count() == 1
