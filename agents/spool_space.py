"""Whether the spool has room for the next report, checked before a job is
claimed: a run whose report cannot be kept is a wasted run.

Room means the spool's filesystem has the next report's size (the largest
report seen, at least DEFAULT_REPORT_BYTES) plus [daemon] spool_reserve_mb
free (os.statvfs, what an unprivileged user may use). After a write to the
spool failed, room also means a probe of that size can be written: a
file-size limit, a quota or a full inode table fail writes that statvfs
calls fine. The state is logged once each time it changes."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from engine.atomic_file import write_bytes_atomic

from . import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)
DEFAULT_REPORT_BYTES = 1 << 20
PROBE_NAME = ".space-probe"


class SpoolSpace:
    def __init__(self, path: Path, reserve_bytes: int, *, statvfs: Callable[[str], os.statvfs_result] = os.statvfs):
        self.path = path
        self.reserve_bytes = reserve_bytes
        self.report_bytes = DEFAULT_REPORT_BYTES
        self.statvfs = statvfs
        self.write_failed = False  # since the last successful probe
        self.short: str | None = None  # why there is no room, as last logged

    def saw_report(self, size: int) -> None:
        self.report_bytes = max(self.report_bytes, size)

    def failed(self, error: str) -> None:
        """A write to the spool failed: no room until a probe of a report's size succeeds."""
        self.write_failed = True
        self._set(f"a write to the spool failed: {error}")

    def has_room(self) -> bool:
        self._set(self._shortage())
        return self.short is None

    def _shortage(self) -> str | None:
        need = self.report_bytes + self.reserve_bytes
        try:
            st = self.statvfs(str(self.path))
        except OSError as e:
            return f"cannot read the free space of {self.path}: {e.strerror or e}"
        free = st.f_bavail * st.f_frsize
        if free < need:
            return (f"{free} bytes free on the spool's filesystem, {need} needed (the next report, "
                    f"{self.report_bytes} bytes, plus [daemon] spool_reserve_mb)")
        if self.write_failed:
            probe = self.path / PROBE_NAME
            try:
                write_bytes_atomic(probe, b"\0" * self.report_bytes)
            except OSError as e:
                return f"a {self.report_bytes}-byte test write to {self.path} fails: {e.strerror or e}"
            finally:
                probe.unlink(missing_ok=True)
            self.write_failed = False
        return None

    def _set(self, short: str | None) -> None:
        if short is not None and self.short is None:
            log.error("event=spool_full path=%s reason=%r: no jobs claimed and no runs until the spool has room",
                      self.path, short)
        elif short is None and self.short is not None:
            log.info("event=spool_room path=%s: claiming jobs again", self.path)
        self.short = short
