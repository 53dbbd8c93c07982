"""The bisect search over a commit range (pure: numpy and the standard library,
no Django), in the manner of Chromium's Pinpoint.

Commits are indexed 0..N, oldest first: 0 is the alert's last good commit, N
its first bad one. Each measured commit holds points: one per benchmark run,
the bisected series' median with the within-run spread detection uses
(`regressions.window.within_run_spread`) and the repeats behind it.

`next_step` reads what is measured so far and says what to do next:
1. Measure both ends (the fleet's old runs came from other days; the same
   machine now is the fair baseline). Ends that do not differ by at least
   detection's smallest change: the regression did not reproduce.
2. Between every two neighbouring measured commits, compare their levels:
   - differ: the culprit is in between; measure the untested commit nearest
     the middle (a commit that failed to build or run is skipped, so the
     search widens around it). With none left between them, the later one is
     a culprit. Two steps in one range are two such pairs: two culprits.
   - same: no culprit in between.
   - undecided: one more run of the one with fewer runs, up to
     MAX_RUNS_PER_COMMIT; at that budget the point estimate decides, and
     only a gap of at least half the ends' step counts as a step (on a
     busy machine the minimum step alone let noise name a run of culprits).
A commit's level is the median of its points. Its standard error is the
largest of: the within-run one, the scatter between its own runs, and the
run-to-run noise: the larger of the series' (`run_sigma`, from its history
with detection's noise scale) and the scatter of runs at one commit pooled
over every commit measured so far (the machine now). Runs vary more from one
to the next than the repeats within one run say, so few runs per commit must
not look precise.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

MAX_RUNS_PER_COMMIT = 8
MIN_RUNS_PER_COMMIT = 2  # one slow run (a busy moment) must not pass for a step
# Two levels differ when the gap is above Z_DIFFER standard errors (detection's
# jump test asks 3 sigmas, changepoints.JUMP_SIGMAS) and at least the minimum
# step; they are the same when even the far end of the gap's Z_SAME interval is
# below the minimum step.
Z_DIFFER = 3.0
Z_SAME = 2.0
# Inside the range, a step counts when it is at least this share of the step
# between the ends (two culprits of a range each make part of it).
MIN_STEP_SHARE = 0.3
AT_BUDGET_STEP_SHARE = 0.5  # the point estimate's bar once a pair's runs are used up
_IQR_PER_SIGMA = 1.349
_MEDIAN_SE_PER_SIGMA = math.sqrt(math.pi / 2)

DIFFER, SAME, UNDECIDED = "differ", "same", "undecided"
# Outcomes of a finished search.
FOUND, NOT_REPRODUCED, NO_CULPRIT, FAILED = "found", "not_reproduced", "no_culprit", "failed"


@dataclass(frozen=True)
class Point:
    value: float  # median seconds of the bisected series in one run
    spread: float  # its within-run spread (an IQR)
    n: int  # repeats behind the median


@dataclass
class CommitState:
    points: list[Point] = field(default_factory=list)
    pending: int = 0  # runs asked for and not back yet
    failed: bool = False  # did not build or run: skipped

    @property
    def measured(self) -> bool:
        return len(self.points) >= MIN_RUNS_PER_COMMIT


@dataclass(frozen=True)
class Culprit:
    index: int
    skipped: tuple[int, ...] = ()  # untestable commits just before it: the change may be in one of them


@dataclass(frozen=True)
class Step:
    """What to do now: `measure` holds commit indices to run once more each
    (an index may appear more than once), `wait` says runs are out, and a
    non-empty `outcome` ends the search."""

    measure: tuple[int, ...] = ()
    wait: bool = False
    outcome: str = ""
    culprits: tuple[Culprit, ...] = ()
    message: str = ""


def level(points: list[Point], run_sigma: float = 0.0) -> tuple[float, float]:
    """The commit's level and its standard error (see the module doc)."""
    values = [p.value for p in points]
    centre = statistics.median(values)
    # The median of n repeats has se = sqrt(pi/2) * sigma / sqrt(n), sigma = IQR / 1.349.
    within = [_MEDIAN_SE_PER_SIGMA * p.spread / _IQR_PER_SIGMA / math.sqrt(max(p.n, 1)) for p in points]
    se = max(math.sqrt(sum(s * s for s in within)) / len(points), run_sigma / math.sqrt(len(points)))
    if len(values) >= 2:
        se = max(se, statistics.stdev(values) / math.sqrt(len(values)))
    return centre, se


def compare(a: list[Point], b: list[Point], min_step: float, run_sigma: float = 0.0) -> str:
    (la, sa), (lb, sb) = level(a, run_sigma), level(b, run_sigma)
    gap, se = abs(lb - la), math.hypot(sa, sb)
    if gap >= min_step and gap > Z_DIFFER * se:
        return DIFFER
    if gap + Z_SAME * se < min_step:
        return SAME
    return UNDECIDED


def next_step(commits: list[CommitState], min_rel_change: float, run_sigma: float = 0.0) -> Step:
    """What to do next for commits 0..N (see the module doc). `min_rel_change`
    is detection's smallest change for the bisected series (relative),
    `run_sigma` its run-to-run noise in seconds."""
    last = len(commits) - 1
    good, bad = commits[0], commits[last]
    for index, name in ((0, "last good"), (last, "first bad")):
        if commits[index].failed:
            return Step(outcome=FAILED, message=f"The {name} commit (index {index}) failed to build or run.")
    ends = [i for i in (0, last) for _ in range(_missing(commits[i]))]
    if ends or good.pending or bad.pending or not (good.measured and bad.measured):
        return Step(measure=tuple(ends), wait=not ends)
    run_sigma = max(run_sigma, pooled_sigma(commits))
    base = level(good.points)[0]
    ends_verdict = _decided(commits, 0, last, compare(good.points, bad.points, min_rel_change * base, run_sigma))
    if isinstance(ends_verdict, Step):
        return ends_verdict
    if ends_verdict == SAME:
        return Step(outcome=NOT_REPRODUCED, message=_levels_message(commits, 0, last, "do not differ"))
    return _search(commits, min_step_of(commits, min_rel_change), run_sigma)


def pooled_sigma(commits: list[CommitState]) -> float:
    """The standard deviation of runs about their commit's mean, pooled over commits."""
    squares, freedom = 0.0, 0
    for commit in commits:
        if len(commit.points) >= 2:
            values = [p.value for p in commit.points]
            mean = sum(values) / len(values)
            squares += sum((v - mean) ** 2 for v in values)
            freedom += len(values) - 1
    return math.sqrt(squares / freedom) if freedom else 0.0


def _missing(commit: CommitState) -> int:
    """Runs to ask for before the commit counts as measured (none while some are out)."""
    return 0 if commit.pending else max(MIN_RUNS_PER_COMMIT - len(commit.points), 0)


def _decided(commits, a: int, b: int, verdict: str) -> str | Step:
    """The verdict, or the Step of one more run when undecided and in budget;
    UNDECIDED at the budget (the caller decides by the point estimate)."""
    if verdict != UNDECIDED:
        return verdict
    fewer = min((a, b), key=lambda i: len(commits[i].points))
    if len(commits[fewer].points) < MAX_RUNS_PER_COMMIT:
        return Step(measure=(fewer,))
    return UNDECIDED


def _search(commits: list[CommitState], min_step: float, run_sigma: float) -> Step:
    ends_step = abs(level(commits[-1].points)[0] - level(commits[0].points)[0])
    measured = [i for i, c in enumerate(commits) if c.measured and not c.pending]
    measure: list[int] = []
    wait = False
    culprits: list[Culprit] = []
    for a, b in zip(measured, measured[1:]):
        between = range(a + 1, b)
        if any(commits[i].pending for i in between):
            wait = True
            continue
        verdict = _decided(commits, a, b, compare(commits[a].points, commits[b].points, min_step, run_sigma))
        if isinstance(verdict, Step):
            measure.extend(i for i in verdict.measure if not commits[i].pending)
            continue
        if verdict == UNDECIDED:
            (la, _), (lb, _) = level(commits[a].points), level(commits[b].points)
            verdict = DIFFER if abs(lb - la) >= AT_BUDGET_STEP_SHARE * ends_step else SAME
        if verdict == SAME:
            continue
        untested = [i for i in between if not commits[i].failed and not commits[i].measured]
        if untested:
            middle = (a + b) / 2
            nearest = min(untested, key=lambda i: (abs(i - middle), i))
            measure.extend([nearest] * _missing(commits[nearest]))
        else:
            culprits.append(Culprit(b, tuple(between)))
    if any(c.pending for c in commits):
        wait = True
    if measure or wait:
        return Step(measure=tuple(measure), wait=wait and not measure)
    if not culprits:
        return Step(outcome=NO_CULPRIT, message=(
            "The ends differ, but no two neighbouring commits do: a change spread over several commits."))
    return Step(outcome=FOUND, culprits=tuple(culprits),
                message=f"{len(culprits)} culprit{'s' if len(culprits) > 1 else ''} found.")


def labels(commits: list[CommitState], min_step: float) -> list[str]:
    """Per commit, for the page: "good" or "bad" (the level of that end),
    "between" (neither end's level: a range with two steps), "skipped"
    (failed to build or run) or "" (not measured)."""
    (lg, _), (lb, _) = level(commits[0].points), level(commits[-1].points)
    out = []
    for c in commits:
        if c.failed:
            out.append("skipped")
        elif not c.points:
            out.append("")
        else:
            value = level(c.points)[0]
            near = min(((abs(value - lg), "good"), (abs(value - lb), "bad")))
            out.append(near[1] if near[0] < min_step else "between")
    return out


def min_step_of(commits: list[CommitState], min_rel_change: float) -> float:
    """The step `_search` and `labels` use, once both ends are measured."""
    base = level(commits[0].points)[0]
    return max(MIN_STEP_SHARE * abs(level(commits[-1].points)[0] - base), min_rel_change * base / 2)


def _levels_message(commits, a: int, b: int, verdict: str) -> str:
    (la, sa), (lb, sb) = level(commits[a].points), level(commits[b].points)
    return (f"The ends {verdict} on this machine now: {la * 1e3:.3f} ± {sa * 1e3:.3f} ms at the last good commit, "
            f"{lb * 1e3:.3f} ± {sb * 1e3:.3f} ms at the first bad one "
            f"({len(commits[a].points)} and {len(commits[b].points)} runs).")
