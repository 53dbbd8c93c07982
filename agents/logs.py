"""Structured logs: one line per event, `key=value` (text) or JSON lines.
Messages are written as `event=NAME key=value ...`; the text formatter puts
time and level in front, the JSON one splits the pairs into fields. With a
progress bar on screen, lines go through tqdm.write so they do not tear it."""
from __future__ import annotations

import json
import logging
import shlex
import sys
from typing import Any

from . import LOGGER_NAME


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if not msg.startswith("event="):
            msg = f"msg={json.dumps(msg)}"
        line = f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} level={record.levelname.lower()} {msg}"
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname.lower()}
        msg = record.getMessage()
        if msg.startswith("event="):
            doc.update(_pairs(msg))
        else:
            doc["msg"] = msg
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def _pairs(msg: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        parts = shlex.split(msg)
    except ValueError:
        return {"msg": msg}
    for part in parts:
        key, sep, value = part.partition("=")
        out[key] = value if sep else True
    return out


class _TqdmHandler(logging.StreamHandler):
    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)


def setup(fmt: str = "text", verbose: bool = True, stream: Any = None) -> None:
    """Route the agent's logger to `stream` (stderr) in `fmt`, replacing the
    handlers an earlier call added."""
    stream = stream or sys.stderr
    logger = logging.getLogger(LOGGER_NAME)
    for h in list(logger.handlers):
        logger.removeHandler(h)
    handler: logging.Handler = _TqdmHandler(stream) if interactive(stream) else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


def interactive(stream: Any = None) -> bool:
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


class Progress:
    """A tqdm bar on a terminal, nothing otherwise."""

    def __init__(self, total: int | None, desc: str, enabled: bool | None = None) -> None:
        self._bar = None
        if enabled if enabled is not None else interactive():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="run", leave=False, dynamic_ncols=True)

    def step(self, note: str = "") -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(note)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
