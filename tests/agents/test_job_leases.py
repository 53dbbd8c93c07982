import time

from agents.daemon import Heartbeat
from agents.jobs_client import JobsClient, LeaseLost, Unreachable
from agents.outbox import Outbox
from agents.spool import Spool

import pytest

from .conftest import make_report
from .ingest_server import IngestServer


def test_the_heartbeat_renews_the_lease_while_a_job_runs_and_notices_when_it_is_lost(ingest, token):
    ingest.add_job("mlp")
    jobs = JobsClient(ingest.url, token)
    job = jobs.claim(30)
    beat = Heartbeat(jobs, job, 30)
    beat.every = 0.05
    beat.start()
    deadline = time.monotonic() + 5
    while ingest.jobs[job.id].heartbeats < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ingest.jobs[job.id].heartbeats >= 3 and not beat.lost
    ingest.expire_lease(job.id)
    assert jobs.claim(30).id == job.id  # claimed again under a new lease
    while not beat.lost and time.monotonic() < deadline:
        time.sleep(0.02)
    beat.stop()
    assert beat.lost
    with pytest.raises(LeaseLost, match="409"):
        jobs.complete_error(job.id, job.lease, "late", "", False)


def test_a_claim_with_nothing_to_do_is_none_and_a_dead_server_is_unreachable(ingest, token, dead_server_url):
    assert JobsClient(ingest.url, token).claim(900) is None
    with pytest.raises(Unreachable, match="cannot connect"):
        JobsClient(dead_server_url, token).claim(900)


def test_a_completion_waits_in_the_outbox_until_the_server_is_back(tmp_path, token, dead_server_url):
    spool = Spool(tmp_path)
    outbox = Outbox(spool)
    port = int(dead_server_url.rsplit(":", 1)[1])
    outbox.put(1, {"lease": "?", "error": "engine crashed", "stderr_tail": "boom", "timed_out": False})
    delivered, error = outbox.deliver(JobsClient(dead_server_url, token))
    assert delivered == 0 and "cannot connect" in error and len(outbox) == 1

    server = IngestServer(port=port).start()
    try:
        job_id = server.add_job("mlp")
        lease = JobsClient(server.url, token).claim(900).lease
        outbox.put(job_id, {"lease": lease, "error": "engine crashed", "stderr_tail": "boom", "timed_out": False})
        outbox.put(99, {"lease": "x", "run": 5})  # a job the server does not know: dropped, not retried forever
        assert outbox.deliver(JobsClient(server.url, token))[0] == 1
    finally:
        server.stop()
    assert server.jobs[job_id].status == "failed" and server.jobs[job_id].completions[0]["stderr_tail"] == "boom"
    assert len(outbox) == 0


def test_a_report_acknowledged_for_a_job_leaves_its_completion_in_the_outbox(ingest, token, tmp_path):
    from agents.client import flush

    spool = Spool(tmp_path)
    outbox = Outbox(spool)
    spool.put(make_report("k1"), "k1", meta={"job": {"id": 7, "lease": "L"}, "conditions": {}})
    spool.put(make_report("k2"), "k2", meta={"job": None, "conditions": {}})
    flush(spool, ingest.url, token, on_acked=lambda p, r: outbox.record_acked(spool, p, r.run_id))
    assert [e for _, e in outbox.entries()] == [{"job": 7, "lease": "L", "run": ingest.runs["k1"][0]}]
    assert spool.pending() == [] and list(tmp_path.glob("*.meta")) == []


def test_a_job_report_the_server_rejects_fails_the_job_with_the_servers_message(ingest, token, tmp_path):
    from agents.client import flush

    spool = Spool(tmp_path)
    outbox = Outbox(spool)
    spool.put(b'{"schema": "nope", "idempotency_key": "bad"}', "bad", meta={"job": {"id": 4, "lease": "L"}})
    flush(spool, ingest.url, token, on_rejected=lambda p, m: outbox.record_rejected(spool, p, m))
    [(_, entry)] = outbox.entries()
    assert entry["job"] == 4 and entry["error"].startswith("the server rejected the report: HTTP 400")
    assert (tmp_path / "rejected" / "bad.json").exists() and (tmp_path / "rejected" / "bad.meta").exists()
