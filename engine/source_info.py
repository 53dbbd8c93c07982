"""Where the engine's code came from (repository, commit, branch), read from
git when the engine runs out of a git checkout."""
from __future__ import annotations

import subprocess
from pathlib import Path

from engine.report import Source

ENGINE_ROOT = Path(__file__).resolve().parent.parent  # the directory holding the engine package


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else None


def checkout_root(root: Path = ENGINE_ROOT) -> Path | None:
    """`root` if it is the top of a git work tree. An installed engine inside
    some other repository (a venv in a checkout) is not that repository's code."""
    top = _git(root, "rev-parse", "--show-toplevel")
    return root if top is not None and Path(top).resolve() == root.resolve() else None


def detect_source(
    *,
    repository: str | None = None,
    commit: str | None = None,
    branch: str | None = None,
    ci_url: str | None = None,
    root: Path = ENGINE_ROOT,
) -> Source:
    """Explicit values win; the rest come from git when `root` is a checkout,
    else stay empty. A detached HEAD has no branch (left empty)."""
    checkout = checkout_root(root)
    if checkout is not None:
        if commit is None:
            commit = _git(checkout, "rev-parse", "HEAD")
        if branch is None:
            head = _git(checkout, "rev-parse", "--abbrev-ref", "HEAD")
            branch = head if head != "HEAD" else None
        if repository is None:
            repository = _git(checkout, "config", "--get", "remote.origin.url") or checkout.as_uri()
    commit_time = _git(checkout, "show", "-s", "--format=%cI", commit) if checkout and commit else None
    return Source(
        repository=repository or "",
        commit=commit or "",
        branch=branch or "",
        commit_time=commit_time,
        ci_url=ci_url or None,
    )
