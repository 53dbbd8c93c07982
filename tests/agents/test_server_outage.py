from agents.cli import main
from agents.spool import Spool

from .agent_process import check_spool_files, spooled_keys, start_daemon, stop, wait_for
from .conftest import write_agent_config
from .ingest_server import IngestServer

SCHEDULE = ("[schedule]\npoll_seconds = 0.05\ninterval_seconds = 0.2\nmax_backoff_seconds = 0.5\n"
            '[[benchmarks]]\nmodel = "mlp"\n')


def test_reports_made_while_the_server_is_down_arrive_exactly_once_when_it_is_back(
    dead_server_url, tmp_path, monkeypatch
):
    ledger = tmp_path / "ledger"
    monkeypatch.setenv("FAKE_ENGINE_LEDGER", str(ledger))
    spool = tmp_path / "spool"
    cfg = write_agent_config(tmp_path / "agent.toml", dead_server_url, spool, extra=SCHEDULE)
    log = tmp_path / "agent.log"
    proc = start_daemon(cfg, log)
    wait_for(lambda: len(spooled_keys(log)) >= 3, proc=proc, what="three reports spooled while down")
    text = log.read_text()
    assert "event=claim_failed" in text and "event=upload_postponed" in text  # a line per retry, no crash
    assert "Connection refused" in text
    assert proc.poll() is None

    server = IngestServer(port=int(dead_server_url.rsplit(":", 1)[1])).start()
    try:
        wait_for(lambda: len(server.runs) >= 5, proc=proc, what="uploads after the server came back")
        assert stop(proc) == 0
        check_spool_files(spool)
        # whatever the last run spooled after SIGTERM goes up with a flush
        assert main(["flush", "--config", str(cfg)]) == 0
    finally:
        server.stop()
    produced = ledger.read_text().split()
    assert Spool(spool).pending() == []
    assert sorted(server.runs) == sorted(set(produced)) and len(produced) == len(set(produced))
    assert spooled_keys(log) <= set(server.runs)
    created = [r for r in server.requests if r[0] == "/api/v1/runs/"]
    assert len(created) >= len(server.runs)  # replays are allowed; storage is once per key
