"""The bisect search on simulated ranges: noisy runs of a series with one or
two steps, failing commits, and an unreproducible change."""
import math

import numpy as np
import pytest

from bisection.search import (
    FAILED,
    FOUND,
    MAX_RUNS_PER_COMMIT,
    NO_CULPRIT,
    NOT_REPRODUCED,
    CommitState,
    Point,
    compare,
    level,
    next_step,
)

MIN_REL = 0.02


def simulate(levels, *, noise=0.02, broken=(), seed=0, max_rounds=200):
    """Run the search to its end, measuring commit i as levels[i] * (1 + noise) with
    within-run noise; returns (final step, distinct commits measured, runs)."""
    rng = np.random.default_rng(seed)
    commits = [CommitState() for _ in levels]
    runs = 0
    for _ in range(max_rounds):
        step = next_step(commits, MIN_REL, run_sigma=noise * levels[0])
        if step.outcome:
            return step, sum(c.measured or c.failed for c in commits), runs
        assert step.measure, "a search that waits with nothing out would hang"
        for i in step.measure:
            runs += 1
            if i in broken:
                commits[i].failed = True
                continue
            value = levels[i] * (1 + rng.normal(0, noise))
            commits[i].points.append(Point(value, spread=levels[i] * noise * 1.349, n=10))
    raise AssertionError("the search did not end")


@pytest.mark.parametrize("n", [16, 64])
@pytest.mark.parametrize("seed", range(5))
def test_one_step_is_found_within_log2_plus_two_commits(n, seed):
    culprit = 1 + seed * (n - 2) // 4
    levels = [1.0 if i < culprit else 1.3 for i in range(n)]
    step, measured, _ = simulate(levels, seed=seed)
    assert step.outcome == FOUND
    assert [c.index for c in step.culprits] == [culprit]
    assert measured <= math.ceil(math.log2(n)) + 2


def test_two_steps_in_one_range_give_two_culprits():
    levels = [1.0] * 5 + [1.25] * 6 + [1.5] * 6
    step, _, _ = simulate(levels, noise=0.01)
    assert step.outcome == FOUND
    assert [c.index for c in step.culprits] == [5, 11]


def test_a_broken_midpoint_is_skipped_and_the_search_widens_around_it():
    levels = [1.0] * 9 + [1.4] * 8  # culprit 9; the first midpoint, 8, does not build
    step, _, _ = simulate(levels, broken={8}, noise=0.01)
    assert step.outcome == FOUND
    assert [c.index for c in step.culprits] == [9]


def test_a_culprit_next_to_untestable_commits_names_them():
    levels = [1.0] * 6 + [1.4] * 6  # commits 4 and 5 do not build: the change is in 4, 5 or 6
    step, _, _ = simulate(levels, broken={4, 5}, noise=0.01)
    assert step.outcome == FOUND
    assert [(c.index, c.skipped) for c in step.culprits] == [(6, (4, 5))]


def test_an_end_that_fails_ends_the_search():
    step, _, _ = simulate([1.0] * 8, broken={7})
    assert step.outcome == FAILED and "first bad" in step.message


def test_ends_at_the_same_level_are_not_reproduced():
    step, measured, runs = simulate([1.0] * 16, noise=0.01)
    assert step.outcome == NOT_REPRODUCED
    assert measured == 2 and runs >= 2


def test_a_gradual_drift_has_no_single_culprit():
    levels = list(np.linspace(1.0, 1.3, 17))
    step, _, _ = simulate(levels, noise=0.001)
    assert step.outcome in (NO_CULPRIT, FOUND)
    if step.outcome == FOUND:  # with 0.3 of the step as the smallest counted step, at most a few commits
        assert len(step.culprits) <= 3


def test_an_undecided_pair_gets_more_runs_up_to_the_budget():
    # A 3% gap with 2% noise per run: one run each cannot tell; more runs are asked, never past the budget.
    commits = [CommitState([Point(1.0, 0.2 * 1.349, 1)]), CommitState([Point(1.03, 0.2 * 1.349, 1)])]
    asked = []
    for _ in range(3 * MAX_RUNS_PER_COMMIT):
        step = next_step(commits, MIN_REL)
        if step.outcome:
            break
        for i in step.measure:
            asked.append(i)
            commits[i].points.append(Point(1.0 + 0.03 * i, 0.2 * 1.349, 1))
    assert asked, "an undecided pair must ask for more runs"
    assert all(len(c.points) <= MAX_RUNS_PER_COMMIT for c in commits)
    assert step.outcome


def test_pending_runs_make_it_wait_and_ask_nothing_twice():
    commits = [CommitState(), CommitState(), CommitState()]
    first = next_step(commits, MIN_REL)
    assert first.measure == (0, 0, 2, 2)  # MIN_RUNS_PER_COMMIT each
    commits[0].pending = commits[2].pending = 1
    again = next_step(commits, MIN_REL)
    assert again.wait and not again.measure and not again.outcome


def test_level_uses_the_larger_of_within_and_between_run_error():
    tight = [Point(1.0, 0.0, 10), Point(1.2, 0.0, 10)]
    centre, se = level(tight)
    assert centre == pytest.approx(1.1)
    assert se == pytest.approx(np.std([1.0, 1.2], ddof=1) / math.sqrt(2))
    assert compare([Point(1.0, 0.01, 10)], [Point(1.5, 0.01, 10)], 0.05) == "differ"
    assert compare([Point(1.0, 0.001, 10)], [Point(1.001, 0.001, 10)], 0.05) == "same"
