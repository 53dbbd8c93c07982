"""An ONNX file of a repository as a benchmark: the one validation the agent's
TOML, the platform's schedules and jobs, and the engine's `run --repo-path`
share (pure Python, no numpy: the platform's fleet imports it).

Such a benchmark is the model name ONNX_MODEL with params `path` (relative to
the repository root), optionally `batch` and `input_ranges` ({input: [lo, hi]},
hi exclusive); passes, quant and flags are its config as for any model. A run
of it reports exactly that model name and those params, so the path is part
of the series identity and two files never share a series.
"""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

ONNX_MODEL = "onnx"
PATH_MAX_CHARS = 300
BATCH_MAX = 1_000_000
PARAM_KEYS = ("path", "batch", "input_ranges")
# The first line of a Git LFS pointer file (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md).
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"


def is_onnx(model: Any) -> bool:
    return model == ONNX_MODEL


def path_error(path: Any) -> str | None:
    """Why `path` is not a repository-relative ONNX file path, or None."""
    if not isinstance(path, str) or not path:
        return f"expected a path relative to the repository root such as 'models/net.onnx', got {path!r}"
    if len(path) > PATH_MAX_CHARS:
        return f"expected at most {PATH_MAX_CHARS} characters, got {len(path)}"
    if "\\" in path or "\x00" in path or path != path.strip():
        return f"expected a POSIX path without backslashes, NULs or surrounding spaces, got {path!r}"
    parts = path.split("/")
    if path.startswith("/") or any(part in ("", ".", "..") for part in parts):
        return (f"expected a normalized path inside the repository (no leading '/', no '.', '..' "
                f"or empty segments), got {path!r}")
    if PurePosixPath(path).suffix.lower() != ".onnx":
        return f"expected a file ending in .onnx, got {path!r}"
    return None


def params_errors(params: Any) -> dict[str, str]:
    """{param key: what is wrong} for an ONNX benchmark's params (empty when fine)."""
    if not isinstance(params, dict):
        return {"": f"expected a table/object with path (and optionally batch, input_ranges), got {params!r}"}
    errors = {key: f"unknown key; expected only {', '.join(PARAM_KEYS)}" for key in params if key not in PARAM_KEYS}
    if "path" not in params:
        errors["path"] = "missing; an ONNX benchmark needs the file's path relative to the repository root"
    elif problem := path_error(params["path"]):
        errors["path"] = problem
    batch = params.get("batch")
    if "batch" in params and (isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= BATCH_MAX):
        errors["batch"] = f"expected a whole number from 1 to {BATCH_MAX}, got {batch!r}"
    if "input_ranges" in params and (problem := _ranges_error(params["input_ranges"])):
        errors["input_ranges"] = problem
    return errors


def _ranges_error(ranges: Any) -> str | None:
    if not isinstance(ranges, dict) or not ranges:
        return f"expected a non-empty table of input name -> [lo, hi], got {ranges!r}"
    for name, bounds in ranges.items():
        if not isinstance(name, str) or not name or "=" in name:
            return f"expected input names without '=', got {name!r}"
        if (not isinstance(bounds, list) or len(bounds) != 2
                or any(isinstance(b, bool) or not isinstance(b, int) for b in bounds) or bounds[1] <= bounds[0]):
            return f"{name}: expected [lo, hi], integers with hi > lo (hi exclusive), got {bounds!r}"
    return None


def input_range_args(ranges: dict[str, list[int]]) -> list[str]:
    """The engine's --input-range values (NAME=LO:HI) for validated ranges."""
    return [f"{name}={lo}:{hi}" for name, (lo, hi) in ranges.items()]


def is_lfs_pointer(head: bytes) -> bool:
    """Whether a file starting with `head` is a Git LFS pointer rather than the object."""
    return head.startswith(LFS_POINTER_PREFIX)


def report_identity(file: str, *, batch: int | None, ranges: dict[str, Any],
                    repo_path: str | None = None) -> tuple[str, dict[str, Any]]:
    """The report's model name and params for an ONNX file: ONNX_MODEL with
    params.path when it is a repository's file (`repo_path`), else
    `onnx:<stem>` with the file's name (a file profiled by hand)."""
    if repo_path is not None:
        name, params = ONNX_MODEL, {"path": repo_path}
    else:
        name, params = f"onnx:{PurePosixPath(file).stem}", {"file": PurePosixPath(file).name}
    if batch is not None:
        params["batch"] = batch
    if ranges:
        params["input_ranges"] = {k: list(v) for k, v in ranges.items()}
    return name, params
