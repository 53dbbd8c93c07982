"""A git worktree of a local repository at one commit, so a commit job runs
*that commit's* engine (python -m engine.cli with cwd and PYTHONPATH set to
the worktree). The worktree lives in a temp dir named after the agent's pid
(`roofwatch-worktree-<pid>-*`) and is removed afterwards; `prune_leftovers`
removes those of agents that died (a crash, kill -9) at the next start."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

_SHA_RE = re.compile(r"^[0-9a-fA-F]{4,64}$")
GIT_TIMEOUT = 120.0
PREFIX = "roofwatch-worktree-"
_LEFTOVER_RE = re.compile(rf"^{PREFIX}(\d+)-")


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
        fetched = _git(repo, "fetch", "--quiet", "--all")
        if fetched.returncode != 0:
            raise WorktreeError(f"commit {commit} is not in the repository at {repo} and git fetch failed "
                                f"(exit {fetched.returncode}): {fetched.stderr.strip()[-1000:]}")
        if not has_commit(repo, commit):
            raise WorktreeError(f"commit {commit} is not in the repository at {repo} (fetched its remotes too)")
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-", dir=workdir) as tmp:
        path = Path(tmp) / "src"
        done = _git(repo, "worktree", "add", "--detach", "--force", str(path), commit)
        if done.returncode != 0:
            raise WorktreeError(f"git worktree add {commit} in {repo} failed: {done.stderr.strip()}")
        try:
            yield path
        finally:
            _git(repo, "worktree", "remove", "--force", str(path))
            _git(repo, "worktree", "prune")


def prune_leftovers(repo: Path | None, workdir: str | None = None) -> list[Path]:
    """Remove the worktree folders of agents no longer running (a crash left
    them), then `git worktree prune` so `repo` forgets them. Returns the removed
    folders; never raises (a start-up chore must not stop the agent)."""
    removed = []
    for path in Path(workdir or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        match = _LEFTOVER_RE.match(path.name)
        if match and path.is_dir() and not _alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if repo is not None and (repo / ".git").exists():
        try:
            _git(repo, "worktree", "prune")
        except WorktreeError:
            pass  # git missing or hung: the next job's own git calls say so
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def worktree_env(path: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a worktree's engine: its own source first on the path."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join([str(path), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env
