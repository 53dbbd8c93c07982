"""A queue that always moves: a report the server keeps failing on, or one the
agent cannot read, is quarantined and the flush goes on; corrupt job
completions are set aside; status shows the quarantine and requeue empties it."""
import json
from pathlib import Path

import pytest

from agents.cli import main
from agents.client import flush
from agents.config import load_config
from agents.outbox import Outbox
from agents.spool import Spool

from .conftest import make_report, write_agent_config


def no_sleep(_):
    pass


def run_flush(spool, ingest, token, **kw):
    return flush(spool, ingest.url, token, sleep=no_sleep, **kw)


def test_server_errors_are_counted_across_flushes_then_the_report_is_quarantined_and_the_next_uploaded(
        ingest, token, tmp_path):
    spool = Spool(tmp_path)
    poison = spool.put(make_report("poison"), "poison", meta={"job": None, "conditions": None})
    spool.put(make_report("fine"), "fine")

    ingest.answer_next(500, times=2, body={"detail": "boom"})
    first = run_flush(spool, ingest, token, max_attempts=2, quarantine_after=3)
    assert first.remaining == 2 and not first.quarantined  # the queue waits: order is kept meanwhile
    assert spool.meta(poison)["attempts"] == 2 and "boom" in spool.meta(poison)["last_failure"]

    ingest.answer_next(500, times=1, body={"detail": "boom"})
    second = run_flush(spool, ingest, token, max_attempts=2, quarantine_after=3)
    assert [u.key for u in second.uploaded] == ["fine"]
    assert [p.name for p, _ in second.quarantined] == ["poison.json"]
    assert spool.pending() == [] and spool.quarantined() == [tmp_path / "quarantine" / "poison.json"]
    note = Spool.note(spool.quarantined()[0])
    assert note.startswith("quarantined at ") and "3 failed uploads" in note and "boom" in note
    assert spool.meta(spool.quarantined()[0])["job"] is None  # the meta went along
    assert not spool.meta_path(poison).exists()


@pytest.mark.parametrize("status", [429, 503])
def test_busy_or_unavailable_answers_do_not_count_against_the_report(ingest, token, tmp_path, status):
    spool = Spool(tmp_path)
    path = spool.put(make_report("k"), "k")
    ingest.answer_next(status, times=3)
    summary = run_flush(spool, ingest, token, max_attempts=3, quarantine_after=1)
    assert summary.remaining == 1 and not summary.quarantined and spool.meta(path) is None


def test_an_unreachable_server_never_quarantines(dead_server_url, token, tmp_path):
    spool = Spool(tmp_path)
    path = spool.put(make_report("k"), "k")
    for _ in range(3):
        summary = flush(spool, dead_server_url, token, max_attempts=2, quarantine_after=1, sleep=no_sleep)
        assert summary.remaining == 1 and not summary.quarantined
    assert spool.meta(path) is None


def test_an_unreadable_report_is_quarantined_without_raising_and_the_next_goes_up(ingest, token, tmp_path,
                                                                                   monkeypatch):
    spool = Spool(tmp_path)
    bad = spool.put(make_report("bad"), "bad")
    spool.put(make_report("good"), "good")
    read_bytes = Path.read_bytes

    def failing(self):
        if self == bad:
            raise OSError(5, "Input/output error", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", failing)
    summary = run_flush(spool, ingest, token)
    assert [u.key for u in summary.uploaded] == ["good"]
    assert [p.name for p, _ in summary.quarantined] == ["bad.json"]
    assert "unreadable: Input/output error" in Spool.note(spool.quarantined()[0])
    assert not summary.ok


def test_a_quarantined_job_report_completes_its_job_as_failed(ingest, token, tmp_path):
    spool = Spool(tmp_path)
    outbox = Outbox(spool)
    spool.put(make_report("job-report"), "job-report", meta={"job": {"id": 7, "lease": "L7"}, "conditions": None})
    ingest.answer_next(500, times=1)
    run_flush(spool, ingest, token, max_attempts=1, quarantine_after=1,
              on_quarantined=lambda path, reason: outbox.record_quarantined(spool, path, reason))
    [(_, entry)] = outbox.entries()
    assert entry["job"] == 7 and entry["lease"] == "L7" and "quarantined" in entry["error"]


def test_corrupt_outbox_entries_are_set_aside_once_and_the_good_ones_stay(tmp_path):
    spool = Spool(tmp_path)
    outbox = Outbox(spool)
    good = outbox.put(2, {"lease": "L", "run": 5})
    outbox.path.joinpath("job-1.json").write_text("{not json")
    outbox.path.joinpath("job-3.json").write_text(json.dumps({"job": 3}))  # no lease, no outcome
    assert len(outbox) == 1 and outbox.quarantined() == []  # counting is read-only

    assert outbox.entries() == [(good, {"job": 2, "lease": "L", "run": 5})]
    aside = outbox.quarantined()
    assert [p.name for p in aside] == ["job-1.json", "job-3.json"]
    assert "unreadable" in Spool.note(aside[0]) and "not a job completion" in Spool.note(aside[1])
    assert sorted(p.name for p in outbox.path.iterdir()) == ["job-2.json"]


def test_status_shows_the_quarantine_and_requeue_puts_reports_back_with_attempts_reset(tmp_path, capsys):
    spool = Spool(tmp_path / "spool")
    for key in ("a", "b"):
        path = spool.put(make_report(key), key, meta={"job": None})
        spool.record_failure(path, "HTTP 500")
        spool.quarantine(path, f"reason of {key}")
    Outbox(spool).put(1, {})
    Outbox(spool).entries()  # sets the malformed completion aside
    capsys.readouterr()

    assert main(["status", "--spool", str(spool.path)]) == 0
    out = capsys.readouterr().out
    assert f"quarantined: 2 (oldest: a.json, quarantined at 20" in out
    assert "  a: reason of a\n  b: reason of b\n" in out
    assert "quarantined job completions: 1" in out

    assert main(["requeue", "--spool", str(spool.path), "nope"]) == 2
    assert "nope" in capsys.readouterr().err and len(spool.quarantined()) == 2
    assert main(["requeue", "--spool", str(spool.path), "b"]) == 0
    assert [p.name for p in spool.pending()] == ["b.json"] and [p.name for p in spool.quarantined()] == ["a.json"]
    assert spool.meta(spool.pending()[0]) == {"job": None}  # attempts reset, the rest kept
    assert main(["requeue", "--spool", str(spool.path)]) == 0
    assert [p.name for p in spool.pending()] == ["a.json", "b.json"] and spool.quarantined() == []
    assert sorted(p.name for p in spool.quarantine_path.iterdir()) == ["outbox"]  # no notes left behind
    main(["status", "--spool", str(spool.path)])
    assert "quarantined: 0" in capsys.readouterr().out


def test_the_cli_flush_uses_the_configs_quarantine_after(ingest, tmp_path, capsys):
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool",
                             extra="[upload]\nquarantine_after = 1\n")
    assert load_config(cfg).quarantine_after == 1
    Spool(tmp_path / "spool").put(make_report("k"), "k")
    ingest.answer_next(500, times=1)
    assert main(["flush", "--config", str(cfg), "--max-attempts", "1"]) == 1
    assert "a report was quarantined" in capsys.readouterr().err
    assert [p.name for p in Spool(tmp_path / "spool").quarantined()] == ["k.json"]


def test_quarantine_after_defaults_to_ten_and_must_be_positive(tmp_path):
    assert load_config(write_agent_config(tmp_path / "a.toml", "http://x", tmp_path)).quarantine_after == 10
    from agents.config import ConfigError
    with pytest.raises(ConfigError, match="upload.quarantine_after"):
        load_config(write_agent_config(tmp_path / "b.toml", "http://x", tmp_path,
                                       extra="[upload]\nquarantine_after = 0\n"))


def test_the_daemon_quarantines_a_poison_job_report_moves_on_and_fails_its_job(ingest, tmp_path):
    from agents.daemon import Agent

    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool",
                             extra="[upload]\nquarantine_after = 2\n")
    agent = Agent(load_config(cfg))
    agent.spool.put(make_report("poison"), "poison", meta={"job": {"id": 41, "lease": "L41"}, "conditions": None})
    agent.spool.put(make_report("fine"), "fine")
    ingest.answer_next(500, times=2)
    agent.deliver()
    assert [p.name for p in agent.spool.quarantined()] == ["poison.json"] and agent.spool.pending() == []
    assert "fine" in ingest.runs
    completions = [json.loads(body) for path, _, body in ingest.requests if path == "/api/v1/jobs/41/complete"]
    assert len(completions) == 1 and "quarantined" in completions[0]["error"]
