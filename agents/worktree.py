"""A git worktree of a local repository at one commit, so a commit job runs
*that commit's* engine (python -m engine.cli with cwd and PYTHONPATH set to
the worktree). The worktree lives in a temp dir and is removed afterwards."""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

_SHA_RE = re.compile(r"^[0-9a-fA-F]{4,64}$")
GIT_TIMEOUT = 120.0


class WorktreeError(Exception):
    pass


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WorktreeError(f"git {' '.join(args)} in {repo} failed: {e}") from None


def has_commit(repo: Path, commit: str) -> bool:
    return _git(repo, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0


@contextlib.contextmanager
def commit_worktree(repo: Path, commit: str, *, workdir: str | None = None) -> Iterator[Path]:
    """Yield a detached worktree of `repo` at `commit`. A commit the clone
    lacks is fetched from its remotes once; still missing is a WorktreeError."""
    if not _SHA_RE.match(commit or ""):
        raise WorktreeError(f"job commit: expected a hex commit id, got {commit!r}")
    if not (repo / ".git").exists():
        raise WorktreeError(f"repository.path {repo} is not a git checkout (no .git)")
    if not has_commit(repo, commit):
        _git(repo, "fetch", "--quiet", "--all")
        if not has_commit(repo, commit):
            raise WorktreeError(f"commit {commit} is not in the repository at {repo} (fetched its remotes too)")
    with tempfile.TemporaryDirectory(prefix="roofwatch-worktree-", dir=workdir) as tmp:
        path = Path(tmp) / "src"
        done = _git(repo, "worktree", "add", "--detach", "--force", str(path), commit)
        if done.returncode != 0:
            raise WorktreeError(f"git worktree add {commit} in {repo} failed: {done.stderr.strip()}")
        try:
            yield path
        finally:
            _git(repo, "worktree", "remove", "--force", str(path))
            _git(repo, "worktree", "prune")


def worktree_env(path: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a worktree's engine: its own source first on the path."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join([str(path), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env
