"""A bisection's steps as people read them (API and alert page): each commit
it measured, in the order it first asked for it, with its runs and verdict."""
from __future__ import annotations

from dataclasses import dataclass

from bisection.models import RUN_DONE, Bisection, BisectRun
from bisection.runner import states
from bisection.search import labels, level, min_step_of
from results.links import commit_url


@dataclass(frozen=True)
class StepView:
    number: int  # 1 for the first commit measured
    index: int  # into the range, 0 = last good
    sha: str
    subject: str
    url: str | None
    runs: list[BisectRun]
    level: float | None  # the commit's level, seconds
    verdict: str  # good, bad, between, skipped, culprit, or "" while it runs


def steps(bisection: Bisection) -> list[StepView]:
    if not bisection.commits:
        return []
    runs: dict[int, list[BisectRun]] = {}
    for run in bisection.runs.order_by("id"):
        runs.setdefault(run.index, []).append(run)
    commits = states(bisection)
    measured_ends = bool(commits[0].points and commits[-1].points)
    verdicts = labels(commits, min_step_of(commits, bisection.min_rel_change)) if measured_ends else []
    culprits = {c["index"] for c in bisection.culprits}
    out = []
    for number, (index, its_runs) in enumerate(runs.items(), start=1):
        commit = bisection.commits[index]
        points = commits[index].points
        verdict = "culprit" if index in culprits else (verdicts[index] if verdicts else "")
        out.append(StepView(number, index, commit["sha"], commit.get("subject", ""),
                            commit_url(bisection.repository, commit["sha"]), its_runs,
                            level(points, bisection.run_sigma)[0] if points else None, verdict))
    return out


def culprit_views(bisection: Bisection) -> list[dict]:
    """The culprits with their commit message, author and link."""
    out = []
    for culprit in bisection.culprits:
        commit = bisection.commits[culprit["index"]]
        out.append({**culprit, "subject": commit.get("subject", ""), "author": commit.get("author", ""),
                    "time": commit.get("time", ""), "url": commit_url(bisection.repository, culprit["sha"]),
                    "skipped": [bisection.commits[i]["sha"] for i in culprit["skipped"]]})
    return out


def rounds(bisection: Bisection) -> int:
    """Benchmark runs that came back with a measurement."""
    return bisection.runs.filter(status=RUN_DONE).count()
