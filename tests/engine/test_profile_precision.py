"""The median's confidence interval (order statistics), --target-ci's
repeat-until-precise loop under its time budget, and their bad values."""
import numpy as np
import pytest
from scipy import stats as st

from engine.benchmark import RunOptions
from engine.cli import main
from engine.models import build_model
from engine.profile import ci_half_width_pct, median_ci_ranks, profile, time_stats


@pytest.fixture
def model():
    return build_model("mlp", batch=4, sizes=[16, 32, 8])


def test_too_few_samples_have_no_interval_and_six_span_min_to_max():
    assert [median_ci_ranks(n) for n in range(1, 6)] == [None] * 5  # [min, max] covers < 95% below n=6
    assert time_stats([5, 4, 3, 2, 1]).ci_low is None and time_stats([5, 4, 3, 2, 1]).ci_high is None
    six = time_stats([6000, 1000, 5000, 2000, 4000, 3000])
    assert (six.ci_low, six.ci_high) == (1e-6, 6e-6)  # 1 - 2/64 = 96.9% coverage


@pytest.mark.parametrize("n", [6, 7, 10, 20, 33, 100, 257])
def test_the_interval_is_scipys_order_statistic_interval(n):
    """The same bounds as scipy's quantile test, and the binomial coverage is >= 95%."""
    samples = np.random.default_rng(n).permutation(np.arange(1, n + 1) * 1000)
    stats = time_stats(samples)
    ci = st.quantile_test(samples / 1e9, q=stats.median, p=0.5).confidence_interval(0.95)
    assert (stats.ci_low, stats.ci_high) == pytest.approx((ci.low, ci.high))
    lo, hi = median_ci_ranks(n)
    coverage = 1 - 2 * st.binom.cdf(lo, n, 0.5)
    assert coverage >= 0.95 > 1 - 2 * st.binom.cdf(lo + 1, n, 0.5)  # the tightest such ranks
    assert hi == n - 1 - lo


def test_every_layer_and_end_to_end_carry_the_interval(model, peaks):
    result = profile(model.graph, model.make_inputs(0), warmup=1, repeats=8, peaks=peaks)
    for stats in [result.end_to_end, *(ly.time for ly in result.layers)]:
        assert stats.ci_low <= stats.median <= stats.ci_high
    short = profile(model.graph, model.make_inputs(0), warmup=0, repeats=3, peaks=peaks)
    assert short.end_to_end.ci_low is None and all(ly.time.ci_high is None for ly in short.layers)


class StepClock:
    """Each read advances by the next of `steps` nanoseconds (cycling)."""

    def __init__(self, steps):
        self.steps, self.i, self.now = list(steps), 0, 0

    def __call__(self) -> int:
        self.now += self.steps[self.i % len(self.steps)]
        self.i += 1
        return self.now


def test_target_ci_adds_pairs_until_the_interval_is_tight(model, peaks):
    # Every pass takes the same time: the CI is 0 wide as soon as one exists (n = 6).
    result = profile(model.graph, model.make_inputs(0), warmup=0, repeats=3, peaks=peaks, clock=StepClock([1000]),
                     target_ci=1.0)
    assert result.repeats == 6 and result.target_met is True
    assert result.end_to_end.n == result.timed_end_to_end.n == 6 and all(ly.time.n == 6 for ly in result.layers)
    assert ci_half_width_pct(result.end_to_end) == 0.0
    # Already tight at the requested repeats: nothing is added.
    again = profile(model.graph, model.make_inputs(0), warmup=0, repeats=12, peaks=peaks, clock=StepClock([1000]),
                    target_ci=1.0)
    assert again.repeats == 12 and again.target_met is True
    without = profile(model.graph, model.make_inputs(0), warmup=0, repeats=3, peaks=peaks, clock=StepClock([1000]))
    assert without.repeats == 3 and without.target_met is None


class RandomClock:
    """Each read advances by a seeded random 1..10 us: passes vary widely."""

    def __init__(self):
        self.rng, self.now = np.random.default_rng(7), 0

    def __call__(self) -> int:
        self.now += int(self.rng.integers(1000, 10_000))
        return self.now


def test_the_budget_stops_a_target_that_is_never_met(model, peaks):
    # A pair is 10 reads (timed: 2 + 2 per node; plain: 2), ~55 us on this clock,
    # so a 2 ms budget, warmup included, holds about 36 pairs; a 0.5% CI needs thousands.
    clock = RandomClock()
    result = profile(model.graph, model.make_inputs(0), warmup=2, repeats=10, peaks=peaks, clock=clock,
                     target_ci=0.5, budget_s=0.002, settle=0)
    assert result.target_met is False
    assert ci_half_width_pct(result.end_to_end) > 0.5
    assert 20 < result.repeats < 45
    # The clock's whole advance: the passes plus one read's step before each pass.
    assert clock.now <= 0.002e9 + 2 * (result.repeats + 2) * 10_000


@pytest.mark.parametrize(("target_ci", "budget_s", "message"), [
    (0, None, "target_ci must be a percent between 0 and 100"),
    (100, None, "target_ci must be a percent between 0 and 100"),
    (-1.5, None, "got -1.5"),
    (1.0, 0, "budget_s must be > 0 seconds, got 0"),
    (1.0, -3, "budget_s must be > 0 seconds"),
])
def test_bad_targets_and_budgets_are_refused(model, peaks, target_ci, budget_s, message):
    with pytest.raises(ValueError, match=message):
        profile(model.graph, model.make_inputs(0), warmup=0, repeats=1, peaks=peaks, target_ci=target_ci,
                budget_s=budget_s)
    with pytest.raises(ValueError, match=message):
        RunOptions(target_ci=target_ci, budget_s=budget_s)


@pytest.mark.parametrize(("argv", "message"), [
    (["--target-ci", "0"], "--target-ci: target_ci must be a percent between 0 and 100"),
    (["--target-ci", "150"], "--target-ci: target_ci must be a percent between 0 and 100"),
    (["--target-ci", "two"], "--target-ci: expected a number, got 'two'"),
    (["--target-ci", "1", "--budget-s", "0"], "--budget-s: budget_s must be > 0 seconds"),
])
def test_the_cli_refuses_bad_targets(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "mlp", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_the_cli_refuses_a_budget_without_a_target(capsys):
    assert main(["run", "mlp", "--budget-s", "10"]) == 2
    assert "--budget-s bounds --target-ci's extra repeats; give --target-ci too" in capsys.readouterr().err


def test_the_report_records_the_target_the_budget_and_the_repeats_really_run(probes, tmp_path, capsys):
    report_path = tmp_path / "run.json"
    assert main(["run", "mlp", "--batch", "2", "--param", "sizes=8,8,4", "--repeats", "3", "--warmup", "1",
                 "--target-ci", "50", "--json", str(report_path)]) == 0
    import json
    doc = json.loads(report_path.read_text())
    assert doc["config"]["target_ci"] == 50.0 and doc["config"]["budget_s"] == 60.0
    assert doc["repeats"] >= 6 and doc["end_to_end"]["n"] == doc["repeats"]
    e2e = doc["end_to_end"]
    assert e2e["ci_low"] <= e2e["median"] <= e2e["ci_high"]
    assert isinstance(doc["timed_page_faults"], int)
    assert "target CI 50%:" in capsys.readouterr().out
