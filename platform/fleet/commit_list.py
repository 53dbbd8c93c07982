"""The answer of a commits job: the commits of base_commit..commit that an
agent listed from its clone (`git rev-list --first-parent --reverse`).

    {"commits": [{"sha": 40 (or 64) hex digits, "subject": str, "author": str, "time": ISO 8601}, ...]}

Oldest first, in first-parent order, base excluded, ending with the head;
at most MAX_COMMIT_LIST entries. `check_commit_list` raises JobRefused naming
the field `result`."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from core.text import unstorable

MAX_COMMIT_LIST = 5000
TEXT_MAX_CHARS = 200  # subject, author
ENTRY_KEYS = ("sha", "subject", "author", "time")
_SHA_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class CommitListError(ValueError):
    """What is wrong with a commit list (fleet.jobs turns it into JobRefused on `result`)."""


def check_commit_list(result: Any, base: str, head: str) -> dict:
    """The commit list, checked against the job's base and head (hex, lower case,
    possibly abbreviated); raises CommitListError saying what is wrong."""
    if not isinstance(result, dict) or set(result) != {"commits"}:
        raise CommitListError('Expected {"commits": [...]}, an object with the one key "commits".')
    commits = result["commits"]
    if not isinstance(commits, list) or not commits:
        raise CommitListError("commits: expected a non-empty array (base excluded, ending with the head).")
    if len(commits) > MAX_COMMIT_LIST:
        raise CommitListError(f"commits: {len(commits)} entries; at most {MAX_COMMIT_LIST}.")
    seen: set[str] = set()
    for i, entry in enumerate(commits):
        _check_entry(i, entry)
        sha = entry["sha"]
        if sha in seen:
            raise CommitListError(f"commits[{i}].sha: {sha} is listed twice.")
        if sha.startswith(base):
            raise CommitListError(f"commits[{i}].sha: {sha} is the base commit, which is excluded.")
        seen.add(sha)
    if not commits[-1]["sha"].startswith(head):
        raise CommitListError(f"commits: the last entry must be the head {head}, got {commits[-1]['sha']} "
                              f"(oldest first).")
    return {"commits": [{key: entry[key] for key in ENTRY_KEYS} for entry in commits]}


def _check_entry(i: int, entry: Any) -> None:
    where = f"commits[{i}]"
    if not isinstance(entry, dict) or set(entry) != set(ENTRY_KEYS):
        raise CommitListError(f"{where}: expected an object with exactly the keys {', '.join(ENTRY_KEYS)}.")
    if not isinstance(entry["sha"], str) or not _SHA_RE.fullmatch(entry["sha"]):
        raise CommitListError(f"{where}.sha: expected 40 (or 64) lower-case hex digits, got {entry['sha']!r}.")
    for key in ("subject", "author", "time"):
        value = entry[key]
        if not isinstance(value, str) or len(value) > TEXT_MAX_CHARS:
            raise CommitListError(f"{where}.{key}: expected a string of at most {TEXT_MAX_CHARS} characters.")
        if bad := unstorable(value):
            raise CommitListError(f"{where}.{key}: must not contain {bad}.")
    try:
        datetime.fromisoformat(entry["time"])
    except ValueError:
        raise CommitListError(f"{where}.time: expected an ISO 8601 time, got {entry['time']!r}.") from None
