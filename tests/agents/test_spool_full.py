"""A full disk or an unwritable spool: a clear error, and what was spooled stays."""
import resource
import signal
import time

from agents.cli import main
from agents.spool import Spool

from .agent_process import start_daemon, stop, wait_for
from .conftest import make_report, write_agent_config

SCHEDULE = ('[schedule]\npoll_seconds = 0.05\ninterval_seconds = 0.1\nmax_backoff_seconds = 0.3\n'
            '[[benchmarks]]\nmodel = "mlp"\n')


def _disk_full():
    """In the agent process: writes past 512 bytes fail with EFBIG, as ENOSPC would on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (512, resource.RLIM_INFINITY))


def test_a_full_disk_is_logged_clearly_and_the_reports_already_spooled_survive(
    ingest, dead_server_url, tmp_path, capsys, monkeypatch
):
    ledger = tmp_path / "ledger"
    monkeypatch.setenv("FAKE_ENGINE_LEDGER", str(ledger))
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir)
    before = {key: spool.put(make_report(key), key).read_bytes() for key in ("old-1", "old-2")}
    cfg = write_agent_config(tmp_path / "agent.toml", dead_server_url, spool_dir, extra=SCHEDULE)
    log = tmp_path / "agent.log"
    proc = start_daemon(cfg, log, preexec=_disk_full)
    wait_for(lambda: "event=spool_full" in log.read_text(), proc=proc, what="spool full")
    time.sleep(1.0)  # some 20 rounds of the loop: none may start a run while a report-sized write fails
    assert stop(proc) == 0  # it kept running and stops cleanly
    text = log.read_text()
    assert "cannot write report" in text and "File too large" in text and "no new runs until" in text
    assert text.count("event=spool_error") == 1 and text.count("event=spool_full") == 1  # logged once
    assert len(ledger.read_text().split()) == 1  # the one run whose report failed; none wasted after it
    assert {Spool.key_of(p): p.read_bytes() for p in spool.pending()} == before
    assert not list(spool_dir.glob(".*.tmp"))  # no half-written file left

    write_agent_config(tmp_path / "agent.toml", ingest.url, spool_dir, extra=SCHEDULE)
    assert main(["flush", "--config", str(cfg)]) == 0
    assert sorted(ingest.runs) == ["old-1", "old-2"]


def test_an_unwritable_spool_stops_the_daemon_with_the_path_in_the_message(ingest, unwritable_dir, tmp_path,
                                                                          capsys):
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, unwritable_dir, extra=SCHEDULE)
    assert main(["daemon", "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert f"cannot create spool directory {unwritable_dir}" in err
    assert main(["run-once", "--config", str(cfg)]) == 1
    assert str(unwritable_dir) in capsys.readouterr().err
    assert ingest.requests == []  # not even a job claimed without a place for its report
