"""Measurement hygiene: the quiet wait is on by default, every run (run-once
--model included) records the load, pinning, CPU governor and turbo state, a
failed git fetch fails the job naming the commit, and worktrees left by a
crashed agent are pruned at start-up."""
import json
import os
import subprocess
import sys

import pytest

from agents.cli import main
from agents.config import AgentConfig, default_max_load, load_config
from agents.quiet import cpu_governor, finish_conditions, turbo_enabled
from agents.spool import Spool
from agents.worktree import PREFIX, WorktreeError, commit_worktree, prune_leftovers

from .conftest import write_agent_config
from .test_commit_jobs import git


def fake_sys_cpu(root, governors=None, no_turbo=None, boost=None):
    for n, gov in (governors or {}).items():
        d = root / f"cpu{n}" / "cpufreq"
        d.mkdir(parents=True)
        (d / "scaling_governor").write_text(gov + "\n")
    if no_turbo is not None:
        (root / "intel_pstate").mkdir(parents=True)
        (root / "intel_pstate" / "no_turbo").write_text(no_turbo + "\n")
    if boost is not None:
        (root / "cpufreq").mkdir(parents=True, exist_ok=True)
        (root / "cpufreq" / "boost").write_text(boost + "\n")
    return root


def test_the_governor_is_read_for_the_pinned_cpus_or_all_and_is_none_when_absent(tmp_path):
    root = fake_sys_cpu(tmp_path, {0: "performance", 1: "powersave", 2: "performance"})
    assert cpu_governor([0, 2], root) == "performance"
    assert cpu_governor(None, root) == "performance,powersave"
    assert cpu_governor([7], root) is None
    assert cpu_governor(None, tmp_path / "nothing") is None


@pytest.mark.parametrize("no_turbo, boost, expected", [
    ("1", None, False), ("0", "0", True),  # intel_pstate wins
    (None, "1", True), (None, "0", False),
    (None, None, None), ("x", None, None),  # never a guess
])
def test_turbo_comes_from_intel_pstate_or_cpufreq_boost(tmp_path, no_turbo, boost, expected):
    assert turbo_enabled(fake_sys_cpu(tmp_path, no_turbo=no_turbo, boost=boost)) is expected


def test_finished_conditions_carry_governor_and_turbo(tmp_path):
    root = fake_sys_cpu(tmp_path, {0: "schedutil"}, no_turbo="1")
    done = finish_conditions({"quiet": True}, [0], sys_cpu=root)
    assert done["cpu_governor"] == "schedutil" and done["turbo"] is False and done["cpus"] == [0]


def test_the_quiet_wait_is_on_by_default_with_half_the_cpus_as_the_limit(tmp_path):
    cfg = load_config(write_agent_config(tmp_path / "agent.toml", "http://x", tmp_path, extra="[schedule]\n"))
    defaults = AgentConfig(path=tmp_path, server="http://x", token="t")
    assert defaults.max_load == default_max_load() == max(1.0, (os.cpu_count() or 2) / 2)
    assert defaults.max_wait_seconds == 300.0
    assert cfg.max_load == default_max_load() and cfg.max_wait_seconds == 0  # the test helper's no-wait


def test_run_once_with_a_model_measures_like_a_job_and_records_its_conditions(ingest, tmp_path, monkeypatch,
                                                                             capsys):
    argv_log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_ENGINE_ARGV", str(argv_log))
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool",
                             extra="[measurement]\ncpus = [0]\nrepeats = 4\n[quiet]\nmax_load = 1000.0\n")
    assert main(["run-once", "--config", str(cfg), "--model", "mlp", "--batch", "8", "--max-wait", "0"]) == 0, \
        capsys.readouterr().err
    [body] = ingest.stored_bodies()
    cond = body["conditions"]
    assert cond["max_load"] == 1000.0 and cond["quiet"] is True and cond["cpus"] == [0]
    assert "cpu_governor" in cond and "turbo" in cond and len(cond["loadavg_after"]) == 3
    [line] = [json.loads(x) for x in argv_log.read_text().splitlines()]
    assert line["argv"][4:8] == ["--batch", "8", "--repeats", "4"]  # the config's repeats, the CLI's batch


def test_run_once_with_a_model_keeps_its_conditions_in_the_spool_meta(dead_server_url, tmp_path):
    cfg = write_agent_config(tmp_path / "agent.toml", dead_server_url, tmp_path / "spool")
    assert main(["run-once", "--config", str(cfg), "--model", "mlp", "--max-attempts", "1"]) == 1
    spool = Spool(tmp_path / "spool")
    [meta] = [spool.meta(p) for p in spool.pending()]
    assert meta["job"] is None and meta["conditions"]["waited_seconds"] == 0 and "turbo" in meta["conditions"]


def test_a_failed_fetch_is_an_error_that_names_the_commit(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "remote", "add", "origin", str(tmp_path / "no-such-remote"))
    commit = "ab" * 20
    with pytest.raises(WorktreeError) as e:
        with commit_worktree(repo, commit):
            pass
    assert commit in str(e.value) and "git fetch failed" in str(e.value)


def test_leftover_worktrees_of_dead_agents_are_removed_and_pruned(tmp_path):
    repo, work = tmp_path / "repo", tmp_path / "work"
    repo.mkdir()
    work.mkdir()
    git(repo, "init", "-q")
    git(repo, "commit", "-q", "--allow-empty", "-m", "one")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    leftover = work / f"{PREFIX}{dead.stdout.strip()}-abc"
    leftover.mkdir()
    git(repo, "worktree", "add", "--detach", str(leftover / "src"), "HEAD")
    mine = work / f"{PREFIX}{os.getpid()}-xyz"
    mine.mkdir()
    other = work / "roofwatch-worktree-notours"
    other.mkdir()

    assert prune_leftovers(repo, str(work)) == [leftover]
    assert not leftover.exists() and mine.exists() and other.exists()
    assert git(repo, "worktree", "list").count("\n") == 0  # git forgot the removed worktree
