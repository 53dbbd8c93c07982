"""A small state file for `status` and the daemon's schedules:
`<spool>/.agent-state` (hidden and not *.json, so the spool never lists it), written
atomically. Concurrent agents on one spool: last writer wins, per key."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.atomic_file import write_bytes_atomic

from .spool import Spool, now_iso

__all__ = ["AgentState", "agent_status", "now_iso"]
STATE_FILE = ".agent-state"


class AgentState:
    def __init__(self, spool_path: Path) -> None:
        self.path = spool_path / STATE_FILE

    def read(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def update(self, **fields: Any) -> None:
        """Merge `fields` in; a failure to write is not worth losing a run over."""
        try:
            write_bytes_atomic(self.path, json.dumps({**self.read(), **fields}, indent=1).encode())
        except OSError:
            pass


def agent_status(spool: Spool, state: AgentState) -> dict[str, Any]:
    """What the agent tells the server of itself with each claim (fleet health)."""
    spooled = spool.status()
    saved = state.read()
    return {
        "pending": spooled.pending,
        "rejected": spooled.rejected,
        "last_upload": saved.get("last_upload"),
        "last_error": (saved.get("last_error") or None) and saved["last_error"][:1000],
        "last_error_at": saved.get("last_error_at"),
    }
