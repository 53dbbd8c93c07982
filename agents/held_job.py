"""The lease this agent holds, written durably before it asks for a job
(`<spool>/.held-job`, hidden and not *.json): first the lease alone, chosen
before the claim request; then, before the job's run starts, with the job's
id. Removed when the claim finds no job, and once the job's outcome is
durable (its report spooled, or its completion in the outbox).

A file left behind means the agent stopped or died holding the lease: the
next start gives the job back to the server (release, by id or, when the
agent died during the claim request, by the lease alone) so that it is
queued again at once instead of waiting out the lease."""
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

    def hold(self, job_id: int | None, lease: str) -> None:
        """Record `lease` durably, with its job's id once the claim has answered (None before)."""
        try:
            write_bytes_atomic(self.path, json.dumps({"id": job_id, "lease": lease}).encode())
        except OSError as e:
            raise SpoolError(f"cannot record held lease of job {job_id or '-'} in {self.path}: "
                             f"{e.strerror or e}") from e

    def read(self) -> dict[str, Any] | None:
        """{"id": job id or None, "lease": ...}, or None when nothing (readable) is held."""
        try:
            doc = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return None
        if isinstance(doc, dict) and isinstance(doc.get("lease"), str) and isinstance(doc.get("id"), (int, type(None))):
            return {"id": doc.get("id"), "lease": doc["lease"]}
        return None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
