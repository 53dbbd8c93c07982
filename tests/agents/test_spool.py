import json
import os
import time

import pytest

from agents.spool import STALE_TEMP_SECONDS, Spool, SpoolError

from .conftest import make_report


def temp_files(directory):
    return [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_put_writes_the_report_atomically_and_leaves_no_temp_file(tmp_path):
    spool = Spool(tmp_path / "spool")
    body = make_report("k1")
    path = spool.put(body, "k1")
    assert path == tmp_path / "spool" / "k1.json"
    assert json.loads(path.read_text())["idempotency_key"] == "k1"
    assert temp_files(spool.path) == []
    assert spool.pending() == [path]


def test_put_accepts_bytes_and_replaces_a_report_with_the_same_key(tmp_path):
    spool = Spool(tmp_path)
    spool.put(b'{"v": 1}', "same")
    spool.put(b'{"v": 2}', "same")
    assert [p.read_bytes() for p in spool.pending()] == [b'{"v": 2}']


def test_pending_lists_reports_oldest_first_even_when_written_quickly(tmp_path):
    spool = Spool(tmp_path)
    keys = ["zeta", "alpha", "mid", "beta", "0first"]
    for k in keys:
        spool.put(make_report(k), k)
    assert [Spool.key_of(p) for p in spool.pending()] == keys


def test_a_new_report_sorts_after_one_with_the_same_or_a_later_timestamp(tmp_path):
    # Coarse file-system timestamps (or a clock step back) give a new file an
    # mtime not after the newest pending one; put() must still queue it last.
    spool = Spool(tmp_path)
    first = spool.put(make_report("b-first"), "b-first")
    future = time.time_ns() + 10**9
    os.utime(first, ns=(future, future))
    second = spool.put(make_report("a-second"), "a-second")
    assert spool.pending() == [first, second]


def test_pending_ignores_temp_files_other_names_and_rejected(tmp_path):
    spool = Spool(tmp_path)
    (tmp_path / ".k.json.abc.tmp").write_text("half")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub.json").mkdir()
    kept = spool.put(make_report("k"), "k")
    spool.put(make_report("bad"), "bad")
    spool.reject(tmp_path / "bad.json", "HTTP 400: nope")
    assert spool.pending() == [kept]


def test_opening_a_spool_removes_stale_temp_files_but_keeps_fresh_ones(tmp_path):
    stale = tmp_path / ".old.json.x1.tmp"
    fresh = tmp_path / ".new.json.x2.tmp"
    stale.write_text("crash leftover")
    fresh.write_text("another writer, right now")
    old = time.time() - STALE_TEMP_SECONDS - 5
    os.utime(stale, (old, old))
    Spool(tmp_path)
    assert not stale.exists()
    assert fresh.exists()


def test_ack_removes_the_report_and_is_idempotent(tmp_path):
    spool = Spool(tmp_path)
    path = spool.put(make_report("k"), "k")
    spool.ack(path)
    spool.ack(path)
    assert spool.pending() == []
    assert not path.exists()


def test_reject_moves_the_report_aside_with_the_servers_message(tmp_path):
    spool = Spool(tmp_path)
    body = make_report("k")
    path = spool.put(body, "k")
    dest = spool.reject(path, "HTTP 400: Invalid run report. — schema: expected 'roofwatch.run/1'")
    assert dest == tmp_path / "rejected" / "k.json"
    assert dest.read_text() == body
    note = (tmp_path / "rejected" / "k.error.txt").read_text()
    assert "HTTP 400" in note and "schema: expected" in note
    assert spool.pending() == [] and spool.rejected() == [dest]
    assert temp_files(tmp_path / "rejected") == []


@pytest.mark.parametrize("key", ["", ".hidden", "a/b", "../up", "x" * 129, "k.tmp", None])
def test_put_refuses_keys_that_are_not_safe_file_names(tmp_path, key):
    with pytest.raises(ValueError, match="spool key"):
        Spool(tmp_path).put("{}", key)


def test_an_unwritable_spool_raises_spool_error_naming_the_path(unwritable_dir):
    with pytest.raises(SpoolError) as err:
        Spool(unwritable_dir).put(make_report("k"), "k")
    message = str(err.value)
    assert str(unwritable_dir) in message
    assert "Not a directory" in message or "Permission denied" in message


def test_ensure_writable_fails_when_the_directory_turned_into_a_file(tmp_path):
    spool = Spool(tmp_path / "spool")
    spool.path.rmdir()
    spool.path.write_text("a file now")
    with pytest.raises(SpoolError, match="is not writable") as err:
        spool.ensure_writable()
    assert str(spool.path) in str(err.value)


def test_a_failed_write_leaves_no_temp_file_and_earlier_reports_untouched(tmp_path, monkeypatch):
    spool = Spool(tmp_path)
    first = spool.put(make_report("first"), "first")
    before = first.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(SpoolError, match="No space left on device") as err:
        spool.put(make_report("second"), "second")
    monkeypatch.undo()
    assert str(tmp_path) in str(err.value)
    assert temp_files(tmp_path) == []
    assert spool.pending() == [first]
    assert first.read_bytes() == before


def test_status_counts_pending_and_rejected_and_names_the_oldest(tmp_path):
    spool = Spool(tmp_path)
    oldest = spool.put(make_report("a"), "a")
    spool.put(make_report("b"), "b")
    spool.reject(spool.put(make_report("c"), "c"), "HTTP 409: reused")
    st = spool.status()
    assert (st.pending, st.rejected, st.oldest) == (2, 1, oldest)
    assert st.oldest_time is not None


def test_a_read_only_open_of_a_missing_spool_is_empty_and_creates_nothing(tmp_path):
    st = Spool(tmp_path / "nothing-here", create=False).status()
    assert (st.pending, st.rejected, st.oldest) == (0, 0, None)
    assert not (tmp_path / "nothing-here").exists()
