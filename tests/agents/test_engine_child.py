"""The engine runs through agents/engine_child.py, not a preexec_fn (Python
code between fork and exec of a threaded agent can deadlock): it still dies
with the agent (PR_SET_PDEATHSIG) and takes the CPU pinning."""
import json
import os
import signal
import subprocess
import sys

import pytest

from agents import runner

from .conftest import FAKE_ENGINE


def test_the_engine_child_is_pinned_and_dies_with_the_agent_without_a_preexec_fn(tmp_path, monkeypatch):
    argv_log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_ENGINE_ARGV", str(argv_log))
    popen_kwargs = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        popen_kwargs.append(kwargs)
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(runner.subprocess, "Popen", recording_popen)
    cpu = min(os.sched_getaffinity(0))
    runner.run_benchmark("mlp", engine=[sys.executable, FAKE_ENGINE], workdir=tmp_path, cpus=[cpu])
    assert [kw.get("preexec_fn") for kw in popen_kwargs] == [None]
    [run] = [json.loads(line) for line in argv_log.read_text().splitlines()]
    assert run["cpus"] == [cpu] and run["pdeathsig"] == signal.SIGKILL and run["argv"][:2] == ["run", "mlp"]


def test_an_engine_that_cannot_start_is_a_failed_run_with_the_reason(tmp_path):
    with pytest.raises(runner.BenchmarkFailed) as failed:
        runner.run_benchmark("mlp", engine=[str(tmp_path / "no-such-engine")], workdir=tmp_path)
    assert failed.value.returncode == 127 and "cannot start the engine" in failed.value.stderr_tail
