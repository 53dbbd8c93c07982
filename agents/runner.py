"""Running the engine in a subprocess.

The engine's CLI (`engine.cli run MODEL --json PATH`) writes a run report to
PATH atomically and exits 0, or exits non-zero with its reason on stderr
(2 for a usage error such as an unknown model). A subprocess keeps a crashing
or runaway benchmark from taking the agent down with it, and lets the agent
enforce a timeout, pin the run to CPUs, and run another checkout's engine
(a git worktree of a commit: `cwd` and PYTHONPATH point at it).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.malloc_tuning import steady_env
from engine.onnx_spec import input_range_args, is_onnx
from engine.report import BACKEND_ENGINE
from engine.sweep.spec import sweep_args

ENGINE_COMMAND: tuple[str, ...] = (sys.executable, "-m", "engine.cli")
# The child's entry point: arms PR_SET_PDEATHSIG and the pinning, then execs the engine
# (no preexec_fn: Python code between fork and exec of a threaded parent can deadlock).
CHILD_WRAPPER = (sys.executable, "-I", "-S", str(Path(__file__).with_name("engine_child.py")))
DEFAULT_TIMEOUT = 600.0
STDERR_TAIL = 2000
USAGE_EXIT = 2  # the engine's (and argparse's) exit code for a bad command line
_POLL = 0.1


class BenchmarkFailed(Exception):
    """The engine exited non-zero, timed out, was cancelled, or wrote no report."""

    def __init__(self, model: str, message: str, *, returncode: int | None, stderr_tail: str = "",
                 timed_out: bool = False, cancelled: bool = False) -> None:
        self.model = model
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.timed_out = timed_out
        self.cancelled = cancelled
        super().__init__(message)

    @property
    def is_usage_error(self) -> bool:
        return self.returncode == USAGE_EXIT and not self.timed_out and not self.cancelled


def format_param(value: Any) -> str:
    """A model param as the engine's --param takes it: lists comma-joined."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def engine_args(
    model: str,
    json_path: Path,
    *,
    batch: int | None = None,
    repeats: int | None = None,
    warmup: int | None = None,
    params: Mapping[str, Any] | None = None,
    threads: int | None = None,
    inject: Sequence[str] = (),
    passes: Sequence[str] = (),
    quant: str | None = None,
    flags: Mapping[str, Any] | None = None,
    target_ci: float | None = None,
    budget_s: float | None = None,
    repository: str | None = None,
    commit: str | None = None,
    backend: str | None = None,
    onnx_file: str | os.PathLike[str] | None = None,
    sweep: Mapping[str, Any] | None = None,
) -> list[str]:
    """The engine CLI's arguments (after the command itself) for one run.
    Options are given only when set; passes, a quant mode other than 'none'
    and flags become --passes/--quant/--flag (target_ci and budget_s
    --target-ci/--budget-s, a backend other than the engine --backend), so an engine without those
    options refuses the run loudly instead of measuring something else.
    The model engine.onnx_spec.ONNX_MODEL runs `onnx_file` (default:
    params.path, from the engine's cwd) as --onnx with --repo-path, its batch
    and input ranges from the params. With `sweep` (a checked
    engine.sweep.spec section) it is `sweep MODEL` over that grid instead."""
    params = dict(params or {})
    if sweep is not None:
        return _sweep_engine_args(model, json_path, sweep, params, batch=batch, warmup=warmup, repeats=repeats,
                                  repository=repository, commit=commit, onnx_file=onnx_file)
    if is_onnx(model):
        rel = params.pop("path")
        args = ["run", "--onnx", str(onnx_file or rel), "--repo-path", rel, "--json", str(json_path)]
        batch = params.pop("batch", batch)
        for item in input_range_args(params.pop("input_ranges", {})):
            args += ["--input-range", item]
    else:
        args = ["run", model, "--json", str(json_path)]
    for flag, value in (("--batch", batch), ("--repeats", repeats), ("--warmup", warmup), ("--threads", threads),
                        ("--target-ci", target_ci), ("--budget-s", budget_s)):
        if value is not None:
            args += [flag, str(value)]
    for name, value in params.items():
        args += ["--param", f"{name}={format_param(value)}"]
    for item in inject:
        args += ["--inject", item]
    if passes:
        args += ["--passes", ",".join(passes)]
    if quant not in (None, "", "none"):
        args += ["--quant", str(quant)]
    if backend not in (None, "", BACKEND_ENGINE):  # the engine's default: an older engine still takes the run
        args += ["--backend", str(backend)]
    for name, value in (flags or {}).items():
        args += ["--flag", f"{name}={json.dumps(value)}"]
    if repository:
        args += ["--repository", repository]
    if commit:
        args += ["--commit", commit]
    return args


def _sweep_engine_args(model: str, json_path: Path, sweep: Mapping[str, Any], params: dict[str, Any], *,
                       batch: int | None, warmup: int | None, repeats: int | None, repository: str | None,
                       commit: str | None, onnx_file: str | os.PathLike[str] | None) -> list[str]:
    """`sweep MODEL --json PATH` and the grid; the params' batch is the grid's
    batch unless the section lists its own. The model ONNX_MODEL is `sweep
    --onnx FILE --repo-path PATH` with its input ranges, as for a run."""
    if is_onnx(model):
        rel = params.pop("path")
        args = ["sweep", "--onnx", str(onnx_file or rel), "--repo-path", rel, "--json", str(json_path)]
        for item in input_range_args(params.pop("input_ranges", {})):
            args += ["--input-range", item]
    else:
        args = ["sweep", model, "--json", str(json_path)]
    batch = params.pop("batch", batch)
    if batch is not None and "batch" not in sweep:
        args += ["--batch", str(batch)]
    for name, value in params.items():
        args += ["--param", f"{name}={format_param(value)}"]
    args += sweep_args(sweep, warmup=3 if warmup is None else warmup, repeats=30 if repeats is None else repeats)
    if repository:
        args += ["--repository", repository]
    if commit:
        args += ["--commit", commit]
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
    cwd: str | os.PathLike[str] | None = None,
    cpus: Collection[int] | None = None,
    cancel: threading.Event | None = None,
    **options: Any,
) -> bytes:
    """Run one benchmark of `model` and return the report's bytes.

    `engine` is the command that starts the engine CLI; the run's arguments
    (see engine_args; `options` are its keyword arguments) are appended to it.
    The report and stderr go to a fresh temp dir inside `workdir`, removed
    afterwards. `cpus` pins the subprocess (sched_setaffinity), which dies
    with the agent (see engine_child.py). Setting
    `cancel` kills the run. Raises BenchmarkFailed with the exit code and the
    last STDERR_TAIL characters of stderr."""
    with tempfile.TemporaryDirectory(prefix="roofwatch-run-", dir=workdir) as tmp:
        report = Path(tmp) / "report.json"
        pin = ",".join(str(c) for c in sorted(cpus or ()))
        cmd = [*CHILD_WRAPPER, str(os.getpid()), pin, "--", *engine,
               *engine_args(model, report, batch=batch, repeats=repeats, warmup=warmup, **options)]
        # stderr to a file, not a pipe: polling wait() on a pipe that fills up would deadlock.
        with open(Path(tmp) / "stderr.txt", "w+b") as err_file:
            # Own session: on timeout the whole process group is killed, not just its leader.
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err_file,
                env=steady_env(env),  # Python's small objects from malloc's kept heap: no faults in timed passes
                cwd=cwd,
                start_new_session=True,
            )
            try:
                outcome = _wait(proc, timeout, cancel)
            except BaseException:
                _kill_group(proc)
                proc.wait()
                raise
            err_file.seek(0)
            tail = _tail(err_file.read())
        if outcome == "timeout":
            raise BenchmarkFailed(
                model, f"engine run of {model!r} timed out after {timeout:g} s and was killed" + _suffix(tail),
                returncode=proc.returncode, stderr_tail=tail, timed_out=True,
            )
        if outcome == "cancelled":
            raise BenchmarkFailed(model, f"engine run of {model!r} was stopped" + _suffix(tail),
                                  returncode=proc.returncode, stderr_tail=tail, cancelled=True)
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


def _wait(proc: subprocess.Popen[bytes], timeout: float, cancel: threading.Event | None) -> str:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            proc.wait(timeout=max(0.0, min(_POLL, left)))
            return "done"
        except subprocess.TimeoutExpired:
            pass
        if cancel is not None and cancel.is_set():
            outcome = "cancelled"
        elif time.monotonic() >= deadline:
            outcome = "timeout"
        else:
            continue
        _kill_group(proc)
        proc.wait()
        return outcome


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
