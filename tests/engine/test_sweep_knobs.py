"""The system knobs a sweep reads, each with where it came from and whether
this user could change it; a missing sysfs file reads as unknown."""
from __future__ import annotations

import os

from engine.sweep import system_knobs
from engine.sweep.system_knobs import not_settable, read_knobs


def _fake_sysfs(tmp_path, files):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return tmp_path


def test_knobs_are_read_from_sysfs_and_root_only_files_are_not_settable(tmp_path, monkeypatch):
    cpu = _fake_sysfs(tmp_path / "cpu", {"smt/active": "1", "smt/control": "on", "intel_pstate/no_turbo": "1",
                                          "cpu0/cpufreq/scaling_governor": "performance"})
    nodes = _fake_sysfs(tmp_path / "node", {"node0/cpulist": "0-1", "node1/cpulist": "2-3"})
    monkeypatch.setattr(system_knobs, "CPU", cpu)
    monkeypatch.setattr(system_knobs, "NODES", nodes)
    (cpu / "intel_pstate/no_turbo").chmod(0o444)
    knobs = read_knobs()
    assert knobs["smt"]["value"] is True and knobs["smt"]["source"].endswith("smt/active")
    assert knobs["numa_nodes"]["value"] == 2 and knobs["numa_nodes"]["settable"] is False
    assert knobs["governor"]["value"] == "performance" and knobs["governor"]["settable"] is True  # we own the file
    assert knobs["turbo"]["value"] is False
    assert knobs["turbo"]["settable"] is (os.geteuid() == 0)  # read-only file: only root could write it
    assert knobs["affinity"]["settable"] is True
    assert "numa_nodes" in not_settable(knobs) and "affinity" not in not_settable(knobs)


def test_missing_files_read_as_unknown_and_unsettable(tmp_path, monkeypatch):
    monkeypatch.setattr(system_knobs, "CPU", tmp_path / "cpu")
    monkeypatch.setattr(system_knobs, "NODES", tmp_path / "node")
    knobs = read_knobs()
    for name in ("smt", "numa_nodes", "governor", "turbo"):
        assert knobs[name]["value"] is None and knobs[name]["settable"] is False, name
    assert "not readable" in knobs["governor"]["source"]
