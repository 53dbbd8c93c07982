"""Bisection rows made straight through the ORM (fake fleet job ids): a
search over c11..c12 that found its culprit at the third commit of four."""
from __future__ import annotations

from itertools import count

from bisection.models import FOUND, RUN_DONE, RUNNING, Bisection, BisectRun
from regressions.models import REGRESSION, AlertSummary

CULPRIT_SHA = "3f9c2e1d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"
CULPRIT_SUBJECT = "matmul: <tile> the inner loop & unroll"
CULPRIT_AUTHOR = "Ada Lovelace"
# index: (sha, subject); 0 is the last good commit, the last the first bad one.
COMMITS = [("c11", ""), ("9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b", "docs: typo"),
           ("1234567890abcdef1234567890abcdef12345678", "tests: more cases"),
           (CULPRIT_SHA, CULPRIT_SUBJECT), ("c12", "bump version")]
FAST, SLOW = 0.010, 0.030  # seconds: good commits, and the culprit and after
_job_ids = count(900_000)


def _commits(repository_commits=COMMITS) -> list[dict]:
    return [{"sha": sha, "subject": subject, "author": CULPRIT_AUTHOR if sha == CULPRIT_SHA else "Bob",
             "time": "2026-11-20T09:30:00+00:00"} for sha, subject in repository_commits]


def make_bisection(summary: AlertSummary, status: str = FOUND, started_by=None, run_id: int | None = None,
                   **fields) -> Bisection:
    """A bisection of `summary`'s worst regression. FOUND: the ends, then indices
    2 and 3 measured, culprit 3 (skipping nothing); RUNNING: the ends measured,
    index 2 pending. `run_id` goes on the first run (a real run to link to)."""
    alert = summary.alerts.filter(direction=REGRESSION).order_by("-rel_change").first()
    commits = summary.attribution["commits"]
    bisection = Bisection.objects.create(
        summary=summary, alert=alert, machine_id=alert.machine_id, benchmark_id=alert.benchmark_id,
        layer=alert.layer, repository=commits["repository"], last_good=commits["last_good"],
        first_bad=commits["first_bad"], min_rel_change=0.05, run_sigma=0.0002, status=status,
        commits=_commits(), started_by=started_by, list_job_id=next(_job_ids),
        message="Found the culprit." if status == FOUND else "", **fields)
    measured = [(0, FAST), (4, SLOW)] + ([(2, FAST), (3, SLOW)] if status == FOUND else [])
    for n, (index, value) in enumerate(measured):
        BisectRun.objects.create(bisection=bisection, index=index, commit=COMMITS[index][0], job_id=next(_job_ids),
                                 run_id=run_id if n == 0 else None, status=RUN_DONE, value=value,
                                 spread=value * 0.01, n=50)
    if status == RUNNING:
        BisectRun.objects.create(bisection=bisection, index=2, commit=COMMITS[2][0], job_id=next(_job_ids))
    if status == FOUND:
        bisection.culprits = [{"index": 3, "sha": CULPRIT_SHA, "skipped": []}]
        bisection.save(update_fields=["culprits"])
    return bisection

