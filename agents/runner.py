"""Running the engine in a subprocess.

The engine's CLI (`engine.cli run MODEL --json PATH`) writes a run report to
PATH atomically and exits 0, or exits non-zero with its reason on stderr
(2 for a usage error such as an unknown model). A subprocess keeps a crashing
or runaway benchmark from taking the agent down with it, and lets the agent
enforce a timeout.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

ENGINE_COMMAND: tuple[str, ...] = (sys.executable, "-m", "engine.cli")
DEFAULT_TIMEOUT = 600.0
STDERR_TAIL = 2000
USAGE_EXIT = 2  # the engine's (and argparse's) exit code for a bad command line


class BenchmarkFailed(Exception):
    """The engine exited non-zero, timed out, or wrote no report."""

    def __init__(self, model: str, message: str, *, returncode: int | None, stderr_tail: str = "",
                 timed_out: bool = False) -> None:
        self.model = model
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.timed_out = timed_out
        super().__init__(message)

    @property
    def is_usage_error(self) -> bool:
        return self.returncode == USAGE_EXIT and not self.timed_out


def engine_args(model: str, json_path: Path, *, batch: int | None = None, repeats: int | None = None,
                warmup: int | None = None) -> list[str]:
    """The engine CLI's arguments (after the command itself) for one run."""
    args = ["run", model, "--json", str(json_path)]
    for flag, value in (("--batch", batch), ("--repeats", repeats), ("--warmup", warmup)):
        if value is not None:
            args += [flag, str(value)]
    return args


def run_benchmark(
    model: str,
    *,
    batch: int | None = None,
    repeats: int | None = None,
    warmup: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    workdir: str | os.PathLike[str],
    engine: Sequence[str] = ENGINE_COMMAND,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Run one benchmark of `model` and return the report's bytes.

    `engine` is the command that starts the engine CLI; the run's arguments are
    appended to it. The report goes to a fresh temp dir inside `workdir`,
    removed afterwards. Raises BenchmarkFailed with the exit code and the last
    STDERR_TAIL characters of stderr."""
    with tempfile.TemporaryDirectory(prefix="roofwatch-run-", dir=workdir) as tmp:
        report = Path(tmp) / "report.json"
        cmd = [*engine, *engine_args(model, report, batch=batch, repeats=repeats, warmup=warmup)]
        # Own session: on timeout the whole process group is killed, not just its leader.
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=None if env is None else dict(env),
            start_new_session=True,
        )
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            _, err = proc.communicate()
            tail = _tail(err)
            raise BenchmarkFailed(
                model,
                f"engine run of {model!r} timed out after {timeout:g} s and was killed" + _suffix(tail),
                returncode=proc.returncode, stderr_tail=tail, timed_out=True,
            ) from None
        except BaseException:
            _kill_group(proc)
            proc.wait()
            raise
        tail = _tail(err)
        if proc.returncode != 0:
            raise BenchmarkFailed(
                model,
                f"engine run of {model!r} failed with exit code {proc.returncode}" + _suffix(tail),
                returncode=proc.returncode, stderr_tail=tail,
            )
        try:
            return report.read_bytes()
        except FileNotFoundError:
            raise BenchmarkFailed(
                model,
                f"engine run of {model!r} exited 0 but wrote no report to {report}" + _suffix(tail),
                returncode=0, stderr_tail=tail,
            ) from None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(err: bytes | None) -> str:
    text = (err or b"").decode("utf-8", errors="replace")
    return text[-STDERR_TAIL:].strip()


def _suffix(tail: str) -> str:
    return f":\n{tail}" if tail else ""
