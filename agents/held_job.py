"""The job this agent holds a lease on, written durably before its run starts
(`<spool>/.held-job`, hidden and not *.json) and removed once the job's
outcome is durable (its report spooled, or its completion in the outbox).
A file left behind means the agent stopped or died holding the lease: the
next start gives the job back to the server (release) so that it is queued
again at once instead of waiting out the lease."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.atomic_file import write_bytes_atomic

from .spool import SpoolError

HELD_FILE = ".held-job"


class HeldJob:
    def __init__(self, spool_path: Path) -> None:
        self.path = spool_path / HELD_FILE

    def hold(self, job_id: int, lease: str) -> None:
        try:
            write_bytes_atomic(self.path, json.dumps({"id": job_id, "lease": lease}).encode())
        except OSError as e:
            raise SpoolError(f"cannot record held job {job_id} in {self.path}: {e.strerror or e}") from e

    def read(self) -> dict[str, Any] | None:
        try:
            doc = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return None
        if isinstance(doc, dict) and isinstance(doc.get("id"), int) and isinstance(doc.get("lease"), str):
            return doc
        return None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
