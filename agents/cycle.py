"""One benchmark run into the spool: the step `run-once --model` repeats
(the daemon and `run-once` from the config measure through `execute`). The
report is durable on disk before anyone tries to upload it."""
from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import LOGGER_NAME
from .runner import DEFAULT_TIMEOUT, ENGINE_COMMAND, BenchmarkFailed, run_benchmark
from .spool import Spool, check_key

log = logging.getLogger(LOGGER_NAME)


def report_key(body: bytes, *, model: str) -> str:
    """The report's idempotency_key, which names its spool file."""
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise BenchmarkFailed(model, f"engine run of {model!r} wrote a report that is not JSON: {e}",
                              returncode=0) from None
    key = doc.get("idempotency_key") if isinstance(doc, dict) else None
    try:
        return check_key(key)  # type: ignore[arg-type]
    except ValueError as e:
        raise BenchmarkFailed(model, f"engine run of {model!r} wrote a report with a bad idempotency_key: {e}",
                              returncode=0) from None


def run_to_spool(
    spool: Spool,
    model: str,
    *,
    batch: int | None = None,
    repeats: int | None = None,
    warmup: int | None = None,
    threads: int | None = None,
    inject: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
    engine: Sequence[str] = ENGINE_COMMAND,
    env: Mapping[str, str] | None = None,
    workdir: str | os.PathLike[str] | None = None,
) -> Path:
    """Run the engine on `model` and spool its report; returns the spooled file.
    The engine's scratch dir goes under `workdir` (default: the system temp
    dir), not into the spool: a long run must not look like a stale temp file
    to another agent process opening the same spool."""
    body = run_benchmark(
        model, batch=batch, repeats=repeats, warmup=warmup, threads=threads, inject=inject, timeout=timeout,
        workdir=workdir if workdir is not None else tempfile.gettempdir(), engine=engine, env=env,
    )
    key = report_key(body, model=model)
    path = spool.put(body, key)
    log.info("spooled %s report %s at %s", model, key, path)
    return path
