import json
import os
import subprocess
import sys

import pytest

from agents.cli import default_spool, main
from agents.spool import Spool

from .conftest import ENGINE_MODEL, QUICK_RUN, make_report

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_once(server, token, spool_dir, *extra):
    return main(["run-once", "--server", server, "--token", token, "--spool", str(spool_dir),
                 "--model", ENGINE_MODEL, *QUICK_RUN, *extra])


def test_run_once_runs_the_engine_and_uploads_each_report(ingest, token, tmp_path, engine_env, capsys):
    code = run_once(ingest.url, token, tmp_path / "spool", "--count", "2")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines() == [f"run 1: {ingest.url}/runs/1/", f"run 2: {ingest.url}/runs/2/"]
    stored = ingest.stored_bodies()
    assert len(stored) == 2 and len(ingest.requests) == 2
    assert all(r["schema"] == "roofwatch.run/1" and r["benchmark"]["model"] == ENGINE_MODEL for r in stored)
    assert Spool(tmp_path / "spool").pending() == []


def test_run_once_also_uploads_reports_left_from_earlier_runs_first(ingest, token, tmp_path, engine_env, capsys):
    Spool(tmp_path).put(make_report("left-over"), "left-over")
    assert run_once(ingest.url, token, tmp_path) == 0
    keys = [json.loads(body)["idempotency_key"] for _, _, body in ingest.requests]
    assert keys[0] == "left-over" and len(keys) == 2
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_with_the_server_down_the_report_stays_spooled_until_a_flush(
    ingest, dead_server_url, token, tmp_path, engine_env, capsys
):
    spool_dir = tmp_path / "spool"
    code = run_once(dead_server_url, token, spool_dir, "--max-attempts", "1")
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert f"1 report(s) remain spooled in {spool_dir}" in err and "refused" in err.lower()
    assert len(Spool(spool_dir).pending()) == 1

    code = main(["flush", "--server", ingest.url, "--token", token, "--spool", str(spool_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip() == f"run 1: {ingest.url}/runs/1/"
    assert len(ingest.runs) == 1 and len(ingest.requests) == 1
    assert Spool(spool_dir).pending() == []


def test_flush_moves_a_rejected_report_aside_and_says_where(ingest, token, tmp_path, capsys):
    Spool(tmp_path).put(b'{"schema": "nope", "idempotency_key": "bad"}', "bad")
    code = main(["flush", "--server", ingest.url, "--token", token, "--spool", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "rejected" in err and "HTTP 400" in err
    assert str(tmp_path / "rejected" / "bad.json") in err and "bad.error.txt" in err


def test_flush_with_a_revoked_token_keeps_the_report_and_says_why(ingest, tmp_path, capsys):
    path = Spool(tmp_path).put(make_report("k"), "k")
    code = main(["flush", "--server", ingest.url, "--token", "rw_revoked", "--spool", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "wrong or was revoked" in err and f"1 report(s) remain spooled in {tmp_path}" in err
    assert path.exists()


def test_flush_of_an_empty_spool_succeeds(ingest, token, tmp_path, capsys):
    assert main(["flush", "--server", ingest.url, "--token", token, "--spool", str(tmp_path)]) == 0
    assert "nothing to upload" in capsys.readouterr().out
    assert ingest.requests == []


def test_status_shows_depth_rejected_and_the_oldest_report(tmp_path, capsys):
    spool = Spool(tmp_path)
    spool.put(make_report("older"), "older")
    spool.put(make_report("newer"), "newer")
    spool.reject(spool.put(make_report("bad"), "bad"), "HTTP 400: no")
    assert main(["status", "--spool", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"spool: {tmp_path}"
    assert out[1].startswith("pending: 2 (oldest: older.json, spooled ")
    assert out[2] == f"rejected: 1 (in {tmp_path / 'rejected'})"


def test_an_unwritable_spool_fails_before_running_the_engine(ingest, token, unwritable_dir, capsys):
    code = main(["run-once", "--server", ingest.url, "--token", token, "--spool", str(unwritable_dir),
                 "--model", "no-such-model"])
    err = capsys.readouterr().err
    assert code == 1
    assert str(unwritable_dir) in err and "Traceback" not in err
    assert "no-such-model" not in err  # the engine never ran


def test_server_and_token_are_required(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ROOFWATCH_SERVER", raising=False)
    monkeypatch.delenv("ROOFWATCH_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["flush", "--token", "t", "--spool", str(tmp_path)])
    assert exit_.value.code == 2
    assert "--server is required" in capsys.readouterr().err


def test_the_default_spool_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ROOFWATCH_SPOOL", str(tmp_path / "s"))
    assert default_spool() == tmp_path / "s"
    monkeypatch.delenv("ROOFWATCH_SPOOL")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_spool() == tmp_path / "data" / "roofwatch" / "spool"


def test_an_unknown_model_is_a_usage_error_with_the_engines_message(ingest, token, tmp_path, engine_env):
    proc = subprocess.run(
        [sys.executable, "-m", "agents.cli", "run-once", "--server", ingest.url, "--token", token,
         "--spool", str(tmp_path), "--model", "no-such-model", "--max-wait", "0"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )
    assert proc.returncode == 2
    assert "no-such-model" in proc.stderr and ENGINE_MODEL in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert Spool(tmp_path).pending() == [] and ingest.requests == []


def test_a_failed_engine_run_exits_1_and_still_uploads_earlier_reports(ingest, token, tmp_path, capsys):
    Spool(tmp_path).put(make_report("earlier"), "earlier")
    code = run_once(ingest.url, token, tmp_path, "--engine-timeout", "0.001")
    out, err = capsys.readouterr()
    assert code == 1
    assert "run 1/1" in err and "timed out" in err
    assert out.strip() == f"run 1: {ingest.url}/runs/1/"
    assert [r["idempotency_key"] for r in ingest.stored_bodies()] == ["earlier"]
    assert Spool(tmp_path).pending() == []
