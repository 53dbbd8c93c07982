import os
import time

from agents.spool import Spool

from .conftest import make_report


def test_a_reports_meta_is_written_with_it_and_leaves_with_its_ack(tmp_path):
    spool = Spool(tmp_path)
    path = spool.put(make_report("k"), "k", meta={"job": {"id": 1, "lease": "L"}, "conditions": {"quiet": True}})
    assert spool.meta(path) == {"job": {"id": 1, "lease": "L"}, "conditions": {"quiet": True}}
    assert spool.pending() == [path]  # the meta file is not a report
    spool.ack(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_only_old_meta_files_without_a_report_are_removed_as_orphans(tmp_path):
    spool = Spool(tmp_path)
    old, young = tmp_path / "gone.meta", tmp_path / "writing.meta"
    for p in (old, young):
        p.write_text("{}")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    kept = spool.put(make_report("kept"), "kept", meta={})
    os.utime(spool.meta_path(kept), (hour_ago, hour_ago))
    assert spool.remove_orphan_meta() == [old]
    assert young.exists() and spool.meta_path(kept).exists()
