"""The status an agent sends with each claim: spool depth, rejected reports,
last upload and last error."""
from agents.spool import Spool
from agents.state import AgentState, agent_status


def test_it_counts_the_spool_and_reads_the_last_upload_and_error(tmp_path):
    spool = Spool(tmp_path / "spool")
    spool.put(b'{"a": 1}', "k1")
    spool.put(b'{"a": 2}', "k2")
    spool.reject(spool.pending()[0], "400 bad report")
    state = AgentState(spool.path)
    state.update(last_upload="2026-11-23T10:00:00+00:00", last_error="x" * 5000, last_error_at="2026-11-23T10:01:00+00:00")
    status = agent_status(spool, state)
    assert status == {"pending": 1, "rejected": 1, "last_upload": "2026-11-23T10:00:00+00:00",
                      "last_error": "x" * 1000, "last_error_at": "2026-11-23T10:01:00+00:00"}


def test_a_fresh_agent_reports_an_empty_spool(tmp_path):
    spool = Spool(tmp_path / "spool")
    assert agent_status(spool, AgentState(spool.path)) == {
        "pending": 0, "rejected": 0, "last_upload": None, "last_error": None, "last_error_at": None,
    }
