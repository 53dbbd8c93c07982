"""One measurement as the daemon and `run-once` make it: wait for a
quiet machine, run the engine (this agent's, or a commit's worktree engine)
pinned and bounded, and return the report with its noise conditions."""
from __future__ import annotations

import json
import logging
import sys
import tempfile
import threading
from dataclasses import dataclass, replace
from typing import Any

from . import LOGGER_NAME
from .config import AgentConfig, BenchmarkSpec
from .jobs_client import Job
from .quiet import finish_conditions, wait_for_quiet
from .runner import ENGINE_COMMAND, BenchmarkFailed, run_benchmark
from .worktree import WorktreeError, commit_worktree, worktree_env

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
    try:
        if req.commit:
            if cfg.repository is None:
                raise MeasurementFailed(f"a job for commit {req.commit} needs [repository] path in {cfg.path}")
            with commit_worktree(cfg.repository, req.commit) as tree:
                # the worktree's own engine: sys.executable, so the agent's numpy, but that commit's code
                cmd = tuple(cfg.engine) or (sys.executable, "-m", "engine.cli")
                body = run_benchmark(spec.model, engine=cmd, cwd=tree, env=worktree_env(tree),
                                     repository=req.repository or None, commit=req.commit, **options)
        else:
            body = run_benchmark(spec.model, engine=engine, **options)
    except BenchmarkFailed as e:
        raise MeasurementFailed(str(e), e.stderr_tail, e.timed_out, e.cancelled, e.is_usage_error) from None
    except WorktreeError as e:
        raise MeasurementFailed(str(e)) from None
    conditions = finish_conditions(conditions, cfg.cpus)
    return with_conditions(body, conditions, purpose=req.purpose), conditions


def with_conditions(body: bytes, conditions: dict[str, Any], *, purpose: str = "") -> bytes:
    """The report with its noise conditions recorded (report field `conditions`),
    and its `purpose` when it has one (a bisect job's run)."""
    doc = json.loads(body)
    doc["conditions"] = conditions
    if purpose:
        doc["purpose"] = purpose
    return json.dumps(doc, sort_keys=True).encode()
