import json
import time

from agents.config import load_config
from agents.daemon import Agent
from agents.state import AgentState

from .conftest import write_agent_config


def peaks_runs(argv_log):
    if not argv_log.exists():
        return 0
    return sum(1 for line in argv_log.read_text().splitlines() if json.loads(line)["argv"] == ["peaks", "--remeasure"])


def test_peaks_are_remeasured_on_first_start_on_a_new_fingerprint_and_when_they_are_old(
    ingest, tmp_path, monkeypatch
):
    argv_log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_ENGINE_ARGV", str(argv_log))
    cfg = load_config(write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool",
                                         extra="[peaks]\nrefresh_hours = 24\n"))
    agent = Agent(cfg)
    state = AgentState(agent.spool.path)
    agent.maybe_refresh_peaks()
    assert peaks_runs(argv_log) == 1 and "peak compute 100.0" in state.read()["peaks"]
    agent.maybe_refresh_peaks()
    assert peaks_runs(argv_log) == 1  # same hardware, measured just now

    state.update(peaks_fingerprint="another-machine")  # e.g. a CPU or memory change
    agent.maybe_refresh_peaks()
    assert peaks_runs(argv_log) == 2

    state.update(peaks_measured_at=time.time() - 25 * 3600)
    agent.maybe_refresh_peaks()
    assert peaks_runs(argv_log) == 3
