import signal

from agents.spool import Spool

from .agent_process import start_daemon, stop, wait_for
from .conftest import write_agent_config


def test_sigterm_lets_the_running_job_finish_into_the_spool_and_the_next_start_completes_it(
    ingest, tmp_path, monkeypatch
):
    argv_log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_ENGINE_ARGV", str(argv_log))
    monkeypatch.setenv("FAKE_ENGINE_SLEEP", "1.5")
    job = ingest.add_job("mlp")
    spool = tmp_path / "spool"
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, spool, extra="[schedule]\npoll_seconds = 0.05\n")
    log = tmp_path / "agent.log"
    proc = start_daemon(cfg, log)
    wait_for(lambda: argv_log.exists() and '"run"' in argv_log.read_text(), proc=proc, what="engine start")
    assert stop(proc, signal.SIGTERM) == 0
    assert "event=stopping signal=SIGTERM" in log.read_text()
    [pending] = Spool(spool).pending()  # the run finished and was kept
    assert ingest.runs == {} and ingest.jobs[job].status == "claimed"

    monkeypatch.delenv("FAKE_ENGINE_SLEEP")
    proc = start_daemon(cfg, log)
    wait_for(lambda: ingest.jobs[job].status == "done", proc=proc, what="job completion")
    assert stop(proc) == 0
    [(run_id, _)] = ingest.runs.values()
    assert ingest.runs[Spool.key_of(pending)][0] == run_id
    assert ingest.jobs[job].completions[0]["run"] == run_id and ingest.jobs[job].claims == 1
