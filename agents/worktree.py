"""A git worktree of a local repository at one commit, so a commit job runs
*that commit's* engine (python -m engine.cli with cwd and PYTHONPATH set to
the worktree). The worktree lives in a temp dir named after the agent's pid
(`roofwatch-worktree-<pid>-*`) and is removed afterwards; `prune_leftovers`
removes those of agents that died (a crash, kill -9) at the next start.
`list_commits` answers a "commits" job: the first-parent history of a range.
`model_file` finds a model-under-test project's ONNX file in a worktree (a
missing file or a Git LFS pointer is a WorktreeError saying what to do)."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from engine.onnx_spec import LFS_POINTER_PREFIX, is_lfs_pointer

_SHA_RE = re.compile(r"^[0-9a-fA-F]{4,64}$")
GIT_TIMEOUT = 120.0
PREFIX = "roofwatch-worktree-"
_LEFTOVER_RE = re.compile(rf"^{PREFIX}(\d+)-")
MAX_COMMITS = 5000  # the platform's fleet.commit_list.MAX_COMMIT_LIST
TEXT_MAX_CHARS = 200  # subject and author, as fleet.commit_list keeps them
_RECORD, _FIELD = "\x1e", "\x1f"


class WorktreeError(Exception):
    pass


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              errors="replace", timeout=GIT_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WorktreeError(f"git {' '.join(args)} in {repo} failed: {e}") from None


def has_commit(repo: Path, commit: str) -> bool:
    return _git(repo, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0


@contextlib.contextmanager
def commit_worktree(repo: Path, commit: str, *, workdir: str | None = None) -> Iterator[Path]:
    """Yield a detached worktree of `repo` at `commit`. A commit the clone
    lacks is fetched from its remotes once; still missing is a WorktreeError."""
    _ensure_commits(repo, {"job commit": commit})
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


def _ensure_commits(repo: Path, commits: Mapping[str, str]) -> None:
    """Check `commits` ({what: sha}) are hex ids the clone has, fetching its
    remotes once if it lacks any; else WorktreeError naming the one missing."""
    for what, commit in commits.items():
        if not _SHA_RE.match(commit or ""):
            raise WorktreeError(f"{what}: expected a hex commit id, got {commit!r}")
    if not (repo / ".git").exists():
        raise WorktreeError(f"repository.path {repo} is not a git checkout (no .git)")
    missing = [c for c in commits.values() if not has_commit(repo, c)]
    if not missing:
        return
    fetched = _git(repo, "fetch", "--quiet", "--all")
    if fetched.returncode != 0:
        raise WorktreeError(f"commit {missing[0]} is not in the repository at {repo} and git fetch failed "
                            f"(exit {fetched.returncode}): {fetched.stderr.strip()[-1000:]}")
    for commit in missing:
        if not has_commit(repo, commit):
            raise WorktreeError(f"commit {commit} is not in the repository at {repo} (fetched its remotes too)")


def list_commits(repo: Path, base: str, head: str) -> list[dict]:
    """The commits of base..head in first-parent order, oldest first, base
    excluded and head last: [{"sha", "subject", "author", "time" (ISO 8601)}].
    WorktreeError when a commit is unknown, base is not a first-parent ancestor of head,
    the range is longer than MAX_COMMITS, or git fails."""
    _ensure_commits(repo, {"base commit": base, "head commit": head})
    ancestor = _git(repo, "merge-base", "--is-ancestor", base, head)
    if ancestor.returncode == 1:
        raise WorktreeError(f"base commit {base} is not an ancestor of head commit {head} in {repo}")
    if ancestor.returncode != 0:
        raise WorktreeError(f"git merge-base {base} {head} in {repo} failed: {ancestor.stderr.strip()[-1000:]}")
    fmt = _RECORD + _FIELD.join(("%H", "%s", "%an", "%cI"))
    listed = _git(repo, "rev-list", "--first-parent", "--reverse", f"--format={fmt}", f"{base}..{head}")
    if listed.returncode != 0:
        raise WorktreeError(f"git rev-list {base}..{head} in {repo} failed: {listed.stderr.strip()[-1000:]}")
    commits = []
    for line in listed.stdout.split("\n"):  # not splitlines(): it splits at \x1e and \x1f too
        if line.startswith(_RECORD):  # the others are rev-list's "commit <sha>" headers
            sha, subject, author, time = line[1:].split(_FIELD, 3)
            commits.append({"sha": sha, "subject": subject[:TEXT_MAX_CHARS], "author": author[:TEXT_MAX_CHARS],
                            "time": time})
    if commits and _git(repo, "rev-parse", f"{commits[0]['sha']}^1").stdout.strip() != _full_sha(repo, base):
        raise WorktreeError(f"base commit {base} is an ancestor of {head} but not on its first-parent history "
                            f"(a commit of a merged branch): no first-parent range starts there")
    if len(commits) > MAX_COMMITS:
        raise WorktreeError(f"{base}..{head} has {len(commits)} first-parent commits; at most {MAX_COMMITS} "
                            f"can be listed")
    return commits


def _full_sha(repo: Path, commit: str) -> str:
    return _git(repo, "rev-parse", f"{commit}^{{commit}}").stdout.strip()


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


def model_file(tree: Path, rel: str, commit: str = "") -> Path:
    """The ONNX file `rel` (repository-relative, engine.onnx_spec-checked) in
    the checkout `tree`, read where it is: never copied into the spool.
    WorktreeError naming the commit and the path when it is missing, not a
    file, or a Git LFS pointer (the worktree holds the pointer, not the model)."""
    where = f"commit {commit}" if commit else f"the checkout {tree}"
    path = tree / rel
    if not path.is_file():
        raise WorktreeError(f"{rel}: no such file at {where} of the repository; the benchmark's params.path "
                            f"must name a file that every commit measured has")
    try:
        with open(path, "rb") as f:
            head = f.read(len(LFS_POINTER_PREFIX))
    except OSError as e:
        raise WorktreeError(f"{rel} at {where}: cannot read it: {e.strerror or e}") from None
    if is_lfs_pointer(head):
        raise WorktreeError(f"{rel} at {where} is a Git LFS pointer, not the model: this agent's checkout has the "
                            f"pointer only. Install git-lfs on this machine and run `git lfs install` then "
                            f"`git lfs pull` in the repository (repository.path), so worktrees check out the "
                            f"model itself; or commit the model file without LFS")
    return path

