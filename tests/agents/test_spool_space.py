"""No job is claimed while the spool lacks room for its report (os.statvfs,
then a report-sized test write after a failed one); the state is logged once
per change, and claiming resumes when room returns."""
import logging
import os

from agents.config import load_config
from agents.daemon import Agent
from agents import spool_space
from agents.spool_space import SpoolSpace

from .conftest import write_agent_config

CLAIM = "/api/v1/jobs/claim"


def fake_statvfs(free_bytes: int):
    def statvfs(path):
        st = os.statvfs(path)
        return os.statvfs_result((st.f_bsize, 1, st.f_blocks, free_bytes, free_bytes, *tuple(st)[5:]))
    return statvfs


def test_no_job_is_claimed_until_the_spool_has_the_next_report_plus_the_reserve(ingest, tmp_path, caplog):
    ingest.add_job("mlp")
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool",
                             extra="[schedule]\npoll_seconds = 0.01\n[daemon]\nspool_reserve_mb = 1\n")
    agent = Agent(load_config(cfg))
    agent.space.statvfs = fake_statvfs(agent.space.report_bytes + (1 << 20) - 1)  # one byte short
    with caplog.at_level(logging.INFO, logger="roofwatch.agent"):
        for _ in range(3):
            agent.step()
        assert [p for p, _, _ in ingest.requests if p == CLAIM] == []
        agent.space.statvfs = fake_statvfs(agent.space.report_bytes + (1 << 20))
        agent.run_job = lambda job: None
        agent.step()
    assert [p for p, _, _ in ingest.requests if p == CLAIM] == [CLAIM]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("event=spool_full" in m for m in messages) == 1  # once, not once per loop
    assert sum("event=spool_room" in m for m in messages) == 1
    assert "bytes free on the spool's filesystem" in next(m for m in messages if "event=spool_full" in m)


def test_after_a_failed_write_room_needs_a_report_sized_test_write(tmp_path, monkeypatch):
    space = SpoolSpace(tmp_path, 0)
    space.saw_report(3 << 20)
    space.failed("No space left on device")
    writes = []

    def failing(path, data):
        writes.append(len(data))
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(spool_space, "write_bytes_atomic", failing)
        assert not space.has_room() and "test write" in space.short
    assert writes == [3 << 20]
    assert space.has_room() and space.short is None  # the real write works: room again
    assert list(tmp_path.iterdir()) == []  # the probe is gone
