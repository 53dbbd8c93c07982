"""A durable spool directory of run reports waiting for upload.

Layout::

    <spool>/<key>.json                 pending reports, uploaded oldest first
    <spool>/rejected/<key>.json        reports the server refused for good
    <spool>/rejected/<key>.error.txt   the server's status and message
    <spool>/quarantine/<key>.json      reports set aside so the queue moves on: unreadable,
    <spool>/quarantine/<key>.error.txt or answered with a server error too many times
                                       (`roofwatch-agent requeue` puts them back)
    <spool>/quarantine/outbox/         corrupt job completions (outbox.py), with their notes
    <spool>/<key>.meta                 the agent's notes on a pending report (job, noise
                                       conditions, failed attempts); follows the report to
                                       rejected/ or quarantine/, or away
    <spool>/.<key>.json.<random>.tmp   a write in progress (never listed)

A report is written to a temp file in the spool dir, flushed, fsynced,
renamed over `<key>.json` and the directory fsynced, so after `put` returns
the report survives a crash or power loss, and a reader never sees half a file.

Temp files are removed when a spool is opened if they are older than
`STALE_TEMP_SECONDS`: younger ones may belong to another agent process writing
into the same spool right now (a daemon and a manual `run-once`).
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from engine.atomic_file import fsync_dir, write_bytes_atomic, write_text_atomic

STALE_TEMP_SECONDS = 60.0
REJECTED_DIR = "rejected"
QUARANTINE_DIR = "quarantine"
NOTE_SUFFIX = ".error.txt"
QUARANTINE_AFTER = 10  # counted failed uploads of one report before it is set aside
META_SUFFIX = ".meta"
_SUFFIX = ".json"
_TEMP_SUFFIX = ".tmp"
# Keys become file names: an idempotency key is a uuid, so this is generous.
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class SpoolError(Exception):
    """The spool directory cannot be created, read or written."""


def _describe(err: OSError) -> str:
    where = f" ({err.filename})" if err.filename else ""
    return f"{err.strerror or err}{where}"


def check_key(key: str) -> str:
    """Return `key` if it is usable as a spool file name, else raise ValueError."""
    if not isinstance(key, str) or not _KEY_RE.match(key) or key.endswith(_TEMP_SUFFIX):
        raise ValueError(
            f"spool key: expected 1-128 characters of letters, digits, '.', '_' or '-' "
            f"not starting with a dot (an idempotency key such as a uuid), got {key!r}"
        )
    return key


@dataclass(frozen=True)
class SpoolStatus:
    path: Path
    pending: int
    rejected: int
    oldest: Path | None
    oldest_time: datetime | None  # when the oldest pending report was spooled, UTC
    quarantined: int = 0


class Spool:
    """A spool directory. `create=False` opens it read-only: a missing
    directory then reads as empty instead of being made."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path).expanduser()
        self.rejected_path = self.path / REJECTED_DIR
        self.quarantine_path = self.path / QUARANTINE_DIR
        if create:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise SpoolError(f"cannot create spool directory {self.path}: {_describe(e)}") from e
            self._remove_stale_temps()

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r})"

    # -- writing ---------------------------------------------------------

    def put(self, report_json: str | bytes, key: str, meta: dict | None = None) -> Path:
        """Write a report durably as `<key>.json` (replacing one with the same
        key) and return its path; `meta` goes first to `<key>.meta`. On failure
        nothing is left behind and the reports already spooled are untouched."""
        check_key(key)
        data = report_json.encode() if isinstance(report_json, str) else bytes(report_json)
        target = self.path / f"{key}{_SUFFIX}"
        try:
            if meta is not None:
                write_bytes_atomic(self.path / f"{key}{META_SUFFIX}", json.dumps(meta).encode())
            write_bytes_atomic(target, data, before_rename=self._order_after_newest)
        except OSError as e:
            if meta is not None and not target.exists():
                try:
                    os.unlink(self.path / f"{key}{META_SUFFIX}")
                except OSError:
                    pass
            raise SpoolError(f"cannot write report {key} to spool directory {self.path}: {_describe(e)}") from e
        return target

    def ensure_writable(self) -> None:
        """Prove the spool takes writes (a probe file, written and removed), so a
        caller can fail before a long benchmark run rather than after it."""
        try:
            fd, tmp = tempfile.mkstemp(prefix=".probe.", suffix=_TEMP_SUFFIX, dir=self.path)
            os.close(fd)
            os.unlink(tmp)
        except OSError as e:
            raise SpoolError(f"spool directory {self.path} is not writable: {_describe(e)}") from e

    def ack(self, path: Path) -> None:
        """The server stored this report: remove it. A file already gone (acked
        by a concurrent flush) is fine."""
        try:
            os.unlink(path)
            fsync_dir(self.path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise SpoolError(f"cannot remove uploaded report {path}: {_describe(e)}") from e
        try:
            os.unlink(self.meta_path(path))
        except OSError:
            pass  # absent (run-once writes none), or left for remove_orphan_meta

    def reject(self, path: Path, message: str) -> Path:
        """Move a report the server refused for good into `rejected/`, next to
        `<key>.error.txt` holding `message`. Returns the report's new path."""
        return self.set_aside(path, self.rejected_path, f"rejected at {now_iso()}\n{message}\n")

    def quarantine(self, path: Path, message: str) -> Path:
        """Move a report that blocks the queue into `quarantine/` with its reason."""
        return self.set_aside(path, self.quarantine_path, f"quarantined at {now_iso()}\n{message}\n")

    def set_aside(self, path: Path, dest_dir: Path, note: str) -> Path:
        """Move `path` (and its meta) into `dest_dir` next to `<key>.error.txt`
        holding `note`, durably. Returns the file's new path."""
        key = self.key_of(path)
        dest, meta = dest_dir / path.name, self.meta_path(path)
        try:
            dest_dir.mkdir(parents=True, exist_ok=True)
            # The note and the meta's copy first: a crash before the file moves
            # leaves it where it was, to be set aside again on the next pass.
            write_text_atomic(dest_dir / f"{key}{NOTE_SUFFIX}", note)
            if meta.exists():
                write_bytes_atomic(dest_dir / meta.name, meta.read_bytes())
            os.replace(path, dest)
            fsync_dir(dest_dir)
            fsync_dir(path.parent)
        except OSError as e:
            raise SpoolError(f"cannot move {path} to {dest_dir}: {_describe(e)}") from e
        try:
            os.unlink(meta)
        except OSError:
            pass  # none, or left for remove_orphan_meta
        return dest

    def record_failure(self, path: Path, message: str) -> int:
        """Count one more failed upload of the report in its meta; returns the count."""
        meta = self.meta(path) or {}
        meta["attempts"] = int(meta.get("attempts") or 0) + 1
        meta["last_failure"] = message[:500]
        try:
            write_bytes_atomic(self.meta_path(path), json.dumps(meta).encode())
        except OSError as e:
            raise SpoolError(f"cannot record a failed upload of {path}: {_describe(e)}") from e
        return meta["attempts"]

    def requeue(self, keys: list[str] | None = None) -> list[Path]:
        """Put quarantined reports (all, or those of `keys`) back in the queue
        with their attempts reset; returns their new paths."""
        return [self._requeue_one(path) for path in self.quarantined()
                if keys is None or self.key_of(path) in keys]

    def _requeue_one(self, path: Path) -> Path:
        meta, target = self.meta(path), self.path / path.name
        try:
            if meta is not None:  # the reset meta first: a crash leaves it for remove_orphan_meta
                meta.pop("attempts", None)
                meta.pop("last_failure", None)
                write_bytes_atomic(self.meta_path(target), json.dumps(meta).encode())
            os.replace(path, target)
            fsync_dir(self.path)
            for leftover in (self.meta_path(path), path.with_name(self.key_of(path) + NOTE_SUFFIX)):
                leftover.unlink(missing_ok=True)
            fsync_dir(self.quarantine_path)
        except OSError as e:
            raise SpoolError(f"cannot requeue {path}: {_describe(e)}") from e
        return target

    # -- reading ---------------------------------------------------------

    def pending(self) -> list[Path]:
        """Reports waiting for upload, oldest first."""
        return self._reports(self.path)

    def rejected(self) -> list[Path]:
        return self._reports(self.rejected_path)

    def quarantined(self) -> list[Path]:
        """Quarantined reports, oldest spooled first."""
        return self._reports(self.quarantine_path)

    @staticmethod
    def note(path: Path) -> str:
        """Why a rejected or quarantined report was set aside ('' when its note is gone)."""
        try:
            return path.with_name(Spool.key_of(path) + NOTE_SUFFIX).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def status(self) -> SpoolStatus:
        pending = self.pending()
        oldest = pending[0] if pending else None
        oldest_time = None
        if oldest is not None:
            try:
                oldest_time = datetime.fromtimestamp(oldest.stat().st_mtime, timezone.utc)
            except FileNotFoundError:
                pass
        return SpoolStatus(self.path, len(pending), len(self.rejected()), oldest, oldest_time,
                           len(self.quarantined()))

    @staticmethod
    def key_of(path: Path) -> str:
        return path.name[: -len(_SUFFIX)]

    @staticmethod
    def meta_path(path: Path) -> Path:
        return path.with_name(Spool.key_of(path) + META_SUFFIX)

    def meta(self, path: Path) -> dict | None:
        """The report's `<key>.meta`, or None when it has none (or it is unreadable)."""
        try:
            doc = json.loads(self.meta_path(path).read_bytes())
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def remove_orphan_meta(self, min_age: float = STALE_TEMP_SECONDS) -> list[Path]:
        """Remove `<key>.meta` files whose report is gone (a crash between the
        two writes of put, or between ack's two unlinks) and that are older than
        `min_age`, so a put in progress elsewhere keeps its own."""
        cutoff = time.time() - min_age
        removed = []
        for meta in self.path.glob(f"*{META_SUFFIX}"):
            report = meta.with_name(meta.name[: -len(META_SUFFIX)] + _SUFFIX)
            try:
                if not report.exists() and meta.stat().st_mtime < cutoff:
                    meta.unlink()
                    removed.append(meta)
            except OSError:
                continue
        return removed

    # -- internals -------------------------------------------------------

    def _reports(self, directory: Path) -> list[Path]:
        return [p for _, _, p in self._scan(directory)]

    def _scan(self, directory: Path) -> list[tuple[int, str, Path]]:
        """(mtime_ns, name, path) of the reports in `directory`, oldest first."""
        entries = []
        try:
            with os.scandir(directory) as it:
                for e in it:
                    if e.name.startswith(".") or not e.name.endswith(_SUFFIX) or not e.is_file():
                        continue
                    try:
                        entries.append((e.stat().st_mtime_ns, e.name, Path(e.path)))
                    except FileNotFoundError:  # acked meanwhile by another flush
                        continue
        except FileNotFoundError:
            return []
        except OSError as e:
            raise SpoolError(f"cannot read spool directory {directory}: {_describe(e)}") from e
        entries.sort()
        return entries

    def _order_after_newest(self, tmp: Path) -> None:
        """Pending order is mtime order, but file-system timestamps are coarse
        (a few ms): nudge a new report's mtime past the newest pending one so
        two quick puts keep their order."""
        entries = self._scan(self.path)
        if not entries:
            return
        newest = entries[-1][0]
        st = tmp.stat()
        if st.st_mtime_ns <= newest:
            os.utime(tmp, ns=(st.st_atime_ns, newest + 1))

    def _remove_stale_temps(self) -> None:
        cutoff = time.time() - STALE_TEMP_SECONDS
        for directory in (self.path, self.rejected_path, self.quarantine_path):
            try:
                with os.scandir(directory) as it:
                    stale = [
                        Path(e.path)
                        for e in it
                        if e.name.startswith(".") and e.name.endswith(_TEMP_SUFFIX) and e.stat().st_mtime < cutoff
                    ]
            except OSError:
                continue  # rejected/ not made yet, or unreadable: put() reports real trouble
            for p in stale:
                try:
                    p.unlink()
                except OSError:
                    pass
