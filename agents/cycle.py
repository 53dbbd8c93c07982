"""One benchmark run into the spool: the step `run-once` repeats, measured
as the daemon measures (quiet wait, pinning, noise conditions). The report is
durable on disk, its conditions in its meta, before anyone tries to upload it."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from . import LOGGER_NAME
from .config import AgentConfig
from .execute import MeasurementFailed, RunRequest, measure
from .runner import BenchmarkFailed
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


def measure_to_spool(spool: Spool, req: RunRequest, cfg: AgentConfig) -> Path:
    """Measure `req` and spool its report; returns the spooled file. Raises
    MeasurementFailed (the engine failed, or wrote no usable report)."""
    model = req.spec.model
    body, conditions = measure(req, cfg)
    try:
        key = report_key(body, model=model)
    except BenchmarkFailed as e:
        raise MeasurementFailed(str(e)) from None
    path = spool.put(body, key, meta={"job": None, "conditions": conditions})
    log.info("event=spooled key=%s model=%s loadavg_before=%s waited_s=%s quiet=%s governor=%s turbo=%s", key,
             model, conditions["loadavg_start"][0], conditions["waited_seconds"], conditions["quiet"],
             conditions["cpu_governor"], conditions["turbo"])
    return path
