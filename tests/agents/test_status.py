from agents.cli import main
from agents.outbox import Outbox
from agents.spool import Spool

from .conftest import make_report, write_agent_config


def test_status_shows_depth_last_upload_last_error_and_waiting_completions(ingest, dead_server_url, tmp_path,
                                                                           capsys):
    spool_dir = tmp_path / "spool"
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, spool_dir)
    Spool(spool_dir).put(make_report("first"), "first")
    assert main(["flush", "--config", str(cfg)]) == 0
    Spool(spool_dir).put(make_report("second"), "second")
    assert main(["flush", "--config", str(cfg), "--server", dead_server_url, "--max-attempts", "1"]) == 1
    Outbox(Spool(spool_dir)).put(3, {"lease": "L", "run": 1})
    capsys.readouterr()

    assert main(["status", "--config", str(cfg)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"config: {cfg} (server {ingest.url})"
    assert lines[1] == f"spool: {spool_dir}"
    assert lines[2].startswith("pending: 1 (oldest: second.json, spooled 20")
    assert lines[3:5] == ["rejected: 0", "job completions to send: 1"]
    assert lines[5].startswith("last upload: 20") and lines[5].endswith(f"({ingest.url}/runs/1/)")
    assert lines[6].startswith("last error: 20") and "Connection refused" in lines[6]


def test_status_of_a_fresh_spool_says_never_and_none(tmp_path, capsys):
    assert main(["status", "--spool", str(tmp_path / "nothing-yet")]) == 0
    out = capsys.readouterr().out
    assert "pending: 0" in out and "last upload: never" in out and "last error: none" in out
    assert not (tmp_path / "nothing-yet").exists()  # status creates nothing
