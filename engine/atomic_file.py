"""Write a file so that readers see either the old content or the whole new
content, never a torn one, and so that it survives a crash once written: temp
file in the same directory, fsync, rename, fsync the directory. The one place
the project does this; the agents' spool and config use it too."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make renames and unlinks in directory `path` durable. Raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *,
                       before_rename: Callable[[Path], None] | None = None) -> Path:
    """Write `data` to `path` durably and return the path. `before_rename` gets
    the fsynced temp file (to set its mode or mtime). Raises OSError; on failure
    the temp file (`.<name>.<random>.tmp`) is removed and `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if before_rename is not None:
            before_rename(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    return path


def write_text_atomic(path: str | os.PathLike[str], text: str, *,
                      before_rename: Callable[[Path], None] | None = None) -> Path:
    """`write_bytes_atomic` of `text` encoded as UTF-8."""
    return write_bytes_atomic(path, text.encode("utf-8"), before_rename=before_rename)
