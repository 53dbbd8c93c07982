"""One measurement as the daemon and `run-once` make it: wait for a
quiet machine, run the engine (this agent's, or a commit's worktree engine)
pinned and bounded, and return the report with its noise conditions.

A commit's job measures what its project has under test: the engine (the
worktree's own engine runs the benchmark) or the model (this agent's engine
runs the benchmark's ONNX file as it is in the worktree); the report's source
records which, and the engine's version."""
from __future__ import annotations

import functools
import importlib.metadata
import json
import logging
import sys
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.onnx_spec import ONNX_MODEL, is_onnx
from engine.report import ENGINE_VERSION_MAX_LENGTH, UNDER_TEST_ENGINE, UNDER_TEST_MODEL
from engine.source_info import detect_source

from . import LOGGER_NAME
from .config import AgentConfig, BenchmarkSpec
from .jobs_client import Job
from .quiet import finish_conditions, wait_for_quiet
from .runner import ENGINE_COMMAND, BenchmarkFailed, run_benchmark
from .worktree import WorktreeError, commit_worktree, model_file, worktree_env

log = logging.getLogger(LOGGER_NAME)
BISECT = "bisect"  # the job kind, and the purpose of its run's report


@dataclass(frozen=True)
class RunRequest:
    """What to measure (`spec`) with every limit resolved against the config."""

    spec: BenchmarkSpec
    warmup: int
    repeats: int
    threads: int | None = None
    timeout: float = 600.0
    repository: str = ""
    commit: str = ""
    batch: int | None = None  # run-once --batch; the config's benchmarks set params instead
    purpose: str = ""  # the report's `purpose` ("bisect": a run at an old commit, kept out of series)
    under_test: str = UNDER_TEST_ENGINE  # of a commit: its own engine runs the benchmark, or ours its model file

    @classmethod
    def from_spec(cls, spec: BenchmarkSpec, cfg: AgentConfig, *, threads: int | None = None,
                  timeout: float | None = None, repository: str = "", commit: str = "") -> "RunRequest":
        return cls(spec, warmup=spec.warmup if spec.warmup is not None else cfg.warmup,
                   repeats=spec.repeats if spec.repeats is not None else cfg.repeats,
                   threads=threads if threads is not None else cfg.threads,
                   timeout=float(timeout or cfg.timeout_seconds), repository=repository, commit=commit)

    @classmethod
    def from_job(cls, job: Job, cfg: AgentConfig) -> "RunRequest":
        req = cls.from_spec(job.spec, cfg, threads=job.threads, timeout=job.timeout_seconds,
                            repository=job.repository, commit=job.commit)
        req = replace(req, under_test=job.under_test)
        return replace(req, purpose=BISECT) if job.kind == BISECT else req


class MeasurementFailed(Exception):
    """Nothing to report: the engine failed or the commit's worktree could not be made."""

    def __init__(self, message: str, stderr_tail: str = "", timed_out: bool = False, cancelled: bool = False,
                 usage_error: bool = False):
        self.stderr_tail = stderr_tail
        self.timed_out = timed_out
        self.cancelled = cancelled
        self.usage_error = usage_error  # the engine refused its command line (an unknown model)
        super().__init__(message)


def measure(req: RunRequest, cfg: AgentConfig, *, cancel: threading.Event | None = None,
            stopping: threading.Event | None = None) -> tuple[bytes, dict[str, Any]]:
    """The report's bytes and the noise conditions. `stopping` cuts the quiet
    wait short; `cancel` kills the engine."""
    conditions = wait_for_quiet(cfg.max_load, cfg.max_wait_seconds, cfg.check_seconds, cancel=stopping)
    if stopping is not None and stopping.is_set():
        raise MeasurementFailed(f"stopping: {req.spec.model} not started", cancelled=True)
    if not conditions["quiet"]:
        log.warning("event=not_quiet model=%s loadavg=%s max_load=%s waited_s=%s: measuring anyway",
                    req.spec.model, conditions["loadavg_start"][0], cfg.max_load, conditions["waited_seconds"])
    engine = tuple(cfg.engine) or ENGINE_COMMAND
    spec = req.spec
    options = dict(batch=req.batch, repeats=req.repeats, warmup=req.warmup, timeout=req.timeout,
                   workdir=tempfile.gettempdir(), cpus=cfg.cpus or None, cancel=cancel, params=spec.params,
                   threads=req.threads, inject=spec.inject, passes=spec.passes, quant=spec.quant, flags=spec.flags,
                   target_ci=spec.target_ci, budget_s=spec.budget_s, backend=spec.backend)
    if spec.sweep is not None:  # the sweep's own grid decides threads, passes and quant (engine.sweep.spec)
        options.update(sweep=spec.sweep, threads=None)
    stamp: dict[str, Any] = {}
    try:
        if req.commit:
            if cfg.repository is None:
                raise MeasurementFailed(f"a job for commit {req.commit} needs [repository] path in {cfg.path}")
            with commit_worktree(cfg.repository, req.commit) as tree:
                onnx_file = model_file(tree, spec.params["path"], req.commit) if is_onnx(spec.model) else None
                source = dict(repository=req.repository or None, commit=req.commit)
                if req.under_test == UNDER_TEST_MODEL:
                    if onnx_file is None:
                        raise MeasurementFailed(f"commit {req.commit}: a model-under-test project measures ONNX "
                                                f"files of its repository (model {ONNX_MODEL!r} with params.path), "
                                                f"not the zoo model {spec.model!r}", usage_error=True)
                    # this agent's engine runs the file as it is at the commit, read in the worktree
                    body = run_benchmark(spec.model, engine=engine, onnx_file=onnx_file, **source, **options)
                    stamp = model_source(tree, req.repository or None, req.commit, cfg)
                else:
                    # the worktree's own engine: sys.executable, so the agent's numpy, but that commit's code
                    cmd = tuple(cfg.engine) or (sys.executable, "-m", "engine.cli")
                    body = run_benchmark(spec.model, engine=cmd, cwd=tree, env=worktree_env(tree),
                                         onnx_file=onnx_file, **source, **options)
                    stamp = {"under_test": UNDER_TEST_ENGINE, "engine_version": req.commit}
        elif is_onnx(spec.model):
            if cfg.repository is None:
                raise MeasurementFailed(f"the ONNX benchmark {spec.params['path']} is a file of the project's "
                                        f"repository: set [repository] path in {cfg.path}", usage_error=True)
            # the checkout as it is (a local [[benchmarks]] schedule): its HEAD is the source
            stamp = model_source(cfg.repository, None, None, cfg)
            body = run_benchmark(spec.model, engine=engine, onnx_file=model_file(cfg.repository, spec.params["path"]),
                                 repository=stamp.pop("repository"), commit=stamp.pop("commit"), **options)
        else:
            body = run_benchmark(spec.model, engine=engine, **options)
    except BenchmarkFailed as e:
        raise MeasurementFailed(str(e), e.stderr_tail, e.timed_out, e.cancelled, e.is_usage_error) from None
    except WorktreeError as e:
        raise MeasurementFailed(str(e)) from None
    if stamp:  # a run's or a sweep's source alike
        body = with_source(body, stamp)
    if spec.sweep is not None:  # a sweep report (schema roofwatch.sweep/1) has its own load_before/after, no more
        return body, finish_conditions(conditions, cfg.cpus)
    conditions = finish_conditions(conditions, cfg.cpus)
    return with_conditions(body, conditions, purpose=req.purpose), conditions


def model_source(tree: Path, repository: str | None, commit: str | None, cfg: AgentConfig) -> dict[str, Any]:
    """The report's source for a model under test at `commit` (None: HEAD) of
    the checkout `tree` (`repository` None: its remote's URL): read from that
    checkout, not from the agent's engine's own (whose branch and commit time
    the engine would report)."""
    src = detect_source(repository=repository, commit=commit, root=tree)
    return {"repository": src.repository, "commit": src.commit, "branch": src.branch or "",
            "commit_time": src.commit_time, "under_test": UNDER_TEST_MODEL, "engine_version": own_engine_version(cfg)}


def with_source(body: bytes, fields: dict[str, Any]) -> bytes:
    """The report with `fields` set in its `source` (what is under test, the
    engine's version; None values are left as the engine wrote them)."""
    doc = json.loads(body)
    doc["source"].update({k: v for k, v in fields.items() if v is not None})
    return json.dumps(doc, sort_keys=True).encode()


@functools.cache
def _own_engine_version() -> str:
    try:
        version = importlib.metadata.version("roofwatch")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    commit = detect_source().commit  # the agent's checkout's HEAD, "" when installed from a wheel
    return f"roofwatch {version}" + (f" ({commit[:12]})" if commit else "")


def own_engine_version(cfg: AgentConfig) -> str:
    """What names this agent's engine in a report: its version (and checkout
    commit), or the configured engine command."""
    if cfg.engine:
        return " ".join(cfg.engine)[:ENGINE_VERSION_MAX_LENGTH]
    return _own_engine_version()[:ENGINE_VERSION_MAX_LENGTH]


def with_conditions(body: bytes, conditions: dict[str, Any], *, purpose: str = "") -> bytes:
    """The report with its noise conditions recorded (report field `conditions`),
    and its `purpose` when it has one (a bisect job's run)."""
    doc = json.loads(body)
    doc["conditions"] = conditions
    if purpose:
        doc["purpose"] = purpose
    return json.dumps(doc, sort_keys=True).encode()
