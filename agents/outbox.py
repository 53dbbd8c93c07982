"""Job completions waiting to be told to the server, one durable file each.

    <spool>/outbox/job-<id>.json   {"job": id, "lease": ..., "run": run id}
                                   or {"job": id, "lease": ..., "result": {"commits": [...]}} (a commits job)
                                   or {"job": id, "lease": ..., "error": ..., "stderr_tail": ..., "timed_out": ...}
    <spool>/quarantine/outbox/     entries that cannot be read or make no sense, set aside
                                   once (with `<name>.error.txt`) instead of blocking the rest

A run's completion is written here after its report was uploaded and before
the report leaves the spool, so a crash at any point either replays the
upload (idempotent) or replays the completion (a second one gets 409, which
counts as done). An engine failure goes straight here."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from engine.atomic_file import write_bytes_atomic

from . import LOGGER_NAME
from .jobs_client import JobsClient, JobsRefused, LeaseLost
from .spool import Spool, SpoolError, now_iso

log = logging.getLogger(LOGGER_NAME)
OUTBOX_DIR = "outbox"


def _well_formed(doc: Any) -> bool:
    return (isinstance(doc, dict) and type(doc.get("job")) is int and "lease" in doc
            and ("run" in doc or "sweep" in doc or "error" in doc or isinstance(doc.get("result"), dict)))


class Outbox:
    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.path = spool.path / OUTBOX_DIR
        self.quarantine_path = spool.quarantine_path / OUTBOX_DIR

    def put(self, job_id: int, entry: dict[str, Any]) -> Path:
        target = self.path / f"job-{job_id}.json"
        try:
            self.path.mkdir(exist_ok=True)
            write_bytes_atomic(target, json.dumps({"job": job_id, **entry}).encode())
        except OSError as e:
            raise SpoolError(f"cannot write job {job_id}'s completion to {self.path}: {e.strerror or e}") from e
        return target

    def entries(self, *, set_aside: bool = True) -> list[tuple[Path, dict[str, Any]]]:
        """The well-formed completions; the others go to quarantine (unless not `set_aside`: read-only)."""
        found = []
        try:
            names = sorted(n for n in os.listdir(self.path) if n.startswith("job-") and n.endswith(".json"))
        except FileNotFoundError:
            return []
        for name in names:
            path = self.path / name
            reason = "not a job completion (needs an integer job, a lease, and a run, a sweep, a result or an error)"
            try:
                doc = json.loads(path.read_bytes())
            except FileNotFoundError:
                continue  # delivered meanwhile by another process
            except (OSError, ValueError) as e:
                doc, reason = None, f"unreadable: {e}"
            if _well_formed(doc):
                found.append((path, doc))
            elif set_aside:
                self._set_aside(path, reason)
        return found

    def quarantined(self) -> list[Path]:
        try:
            return sorted(p for p in self.quarantine_path.iterdir() if p.name.endswith(".json"))
        except FileNotFoundError:
            return []

    def _set_aside(self, path: Path, reason: str) -> None:
        try:
            dest = self.spool.set_aside(path, self.quarantine_path, f"quarantined at {now_iso()}\n{reason}\n")
        except SpoolError as e:
            log.error("event=outbox_unreadable path=%s reason=%r error=%r", path, reason, str(e))
            return
        log.error("event=outbox_quarantined path=%s reason=%r moved_to=%s", path, reason, dest)

    def record_acked(self, spool: Spool, path: Path, run_id: int | None, kind: str = "run") -> None:
        """flush's on_acked: the report of a job is stored as run `run_id`
        (kind "sweep": a sweep report, stored as that sweep)."""
        job = (spool.meta(path) or {}).get("job")
        if job:
            self.put(job["id"], {"lease": job["lease"], kind: run_id})

    def record_rejected(self, spool: Spool, path: Path, message: str) -> None:
        """flush's on_rejected: a job whose report the server refused failed."""
        self._record_failed(spool, path, f"the server rejected the report: {message}")

    def record_quarantined(self, spool: Spool, path: Path, reason: str) -> None:
        """flush's on_quarantined: a job whose report was set aside failed (a requeued
        report's later completion with its run is then refused as already finished)."""
        self._record_failed(spool, path, f"the agent quarantined the report: {reason}")

    def _record_failed(self, spool: Spool, path: Path, error: str) -> None:
        job = (spool.meta(path) or {}).get("job")
        if job:
            self.put(job["id"], {"lease": job["lease"], "error": error[:2000], "stderr_tail": "", "timed_out": False})

    def __len__(self) -> int:
        return len(self.entries(set_aside=False))

    def deliver(self, jobs: JobsClient) -> tuple[int, str | None]:
        """Send every completion; returns (delivered, last error). An entry is
        removed once the server took it, or answered that it cannot (409: lease
        lost or already finished; 400/404): retrying could never succeed."""
        delivered, last_error = 0, None
        for path, e in self.entries():
            try:
                if "run" in e:
                    jobs.complete_run(e["job"], e["lease"], e["run"])
                elif "result" in e:
                    jobs.complete_result(e["job"], e["lease"], e["result"])
                elif "sweep" in e:
                    jobs.complete_sweep(e["job"], e["lease"], e["sweep"])
                else:
                    jobs.complete_error(e["job"], e["lease"], e.get("error", ""), e.get("stderr_tail", ""),
                                        bool(e.get("timed_out")))
                log.info("event=job_completed job=%s run=%s sweep=%s", e["job"], e.get("run", "-"), e.get("sweep", "-"))
                delivered += 1
            except LeaseLost as err:
                log.warning("event=job_completion_refused job=%s reason=%r", e["job"], str(err))
            except JobsRefused as err:
                last_error = str(err)
                if err.status in (400, 404):
                    log.error("event=job_completion_refused job=%s reason=%r", e["job"], str(err))
                else:  # 401/403: a token problem; keep it for when that is fixed
                    log.error("event=job_completion_failed job=%s reason=%r", e["job"], str(err))
                    break
            except Exception as err:  # Unreachable and anything unexpected: keep, try later
                last_error = str(err)
                log.warning("event=job_completion_postponed job=%s reason=%r", e["job"], str(err))
                break
            try:
                path.unlink()
            except OSError:
                pass
        return delivered, last_error
