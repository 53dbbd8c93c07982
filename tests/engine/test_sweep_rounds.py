"""A sweep's rounds: the grid measured round after round, forward then back,
each configuration's rounds combined into their medians (per field); a failed
round fails the configuration, one that cannot run is measured once, and a
budget that runs out mid-round leaves each configuration the rounds it got.
Autotune measures each evaluation's rounds back to back."""
from __future__ import annotations

import pytest

import engine.sweep.measure as measure_module
from engine.sweep.autotune import autotune
from engine.sweep.grid import Grid, SweepConfig
from engine.sweep.measure import back_to_back, combine_rounds, run_grid
from engine.sweep.report import ConfigResult

A, B, C = (SweepConfig(1, batch, 1) for batch in (1, 2, 3))


class Recorder:
    """A fake `measure`: records each call; `script` maps a batch to the
    results of its successive calls (else an ok result of throughput = batch)."""

    def __init__(self, script=None):
        self.calls: list[int] = []
        self.script = {k: list(v) for k, v in (script or {}).items()}

    def __call__(self, config: SweepConfig) -> ConfigResult:
        self.calls.append(config.batch)
        fields = self.script[config.batch].pop(0) if self.script.get(config.batch) else ok(float(config.batch))
        return ConfigResult(**config.to_dict(), **fields)


def ok(throughput, p25=1.0, p50=2.0, p75=3.0, p99=4.0, passes=10, span=1.0, faults=0.0):
    return dict(status="ok", throughput=throughput, p25_ms=p25, p50_ms=p50, p75_ms=p75, p99_ms=p99,
                timed_passes=passes, span_s=span, faults_per_pass=faults)


def test_rounds_run_over_the_grid_forward_then_back_and_results_stay_in_grid_order():
    measure, seen = Recorder(), []
    results = run_grid([A, B, C], measure, rounds=4, progress=seen.append)
    assert measure.calls == [1, 2, 3, 3, 2, 1, 1, 2, 3, 3, 2, 1]
    assert len(seen) == 12  # progress counts measurements
    assert [r.batch for r in results] == [1, 2, 3]
    assert [r.throughput_rounds for r in results] == [[1.0] * 4, [2.0] * 4, [3.0] * 4]
    once = Recorder()
    assert [r.throughput_rounds for r in run_grid([A, B, C], once, rounds=1)] == [[1], [2], [3]]
    assert once.calls == [1, 2, 3]


def test_each_field_is_the_median_of_its_own_rounds_and_passes_and_spans_add_up():
    rounds = [dict(throughput=10.0, p25=0.5, p50=1.0, p75=2.0, p99=4.0, passes=10, span=1.0, faults=3.0),
              dict(throughput=30.0, p25=0.7, p50=1.2, p75=1.5, p99=2.0, passes=20, span=2.0, faults=1.0),
              dict(throughput=20.0, p25=0.9, p50=1.1, p75=3.0, p99=9.0, passes=30, span=0.5, faults=2.0)]
    measure = Recorder({1: [ok(**r) for r in rounds]})
    (result,) = run_grid([A], measure, rounds=3)
    # each median comes from another round: no single round's values
    assert (result.throughput, result.p25_ms, result.p50_ms, result.p75_ms, result.p99_ms) == (20.0, 0.7, 1.1, 2.0, 4.0)
    assert result.faults_per_pass == 2.0
    assert (result.timed_passes, result.span_s) == (60, 3.5)
    assert result.throughput_rounds == [10.0, 30.0, 20.0] and result.p99_ms_rounds == [4.0, 2.0, 9.0]
    two = combine_rounds([ConfigResult(**A.to_dict(), **ok(t)) for t in (10.0, 20.0)])
    assert two.throughput == 15.0  # the median of an even count: the middle two's mean


def test_a_failed_round_fails_the_configuration_which_is_not_measured_again():
    failed = dict(status="failed", error="RuntimeError: worker died")
    measure = Recorder({2: [ok(2.0), failed]})
    results = run_grid([A, B, C], measure, rounds=3)
    assert measure.calls == [1, 2, 3, 3, 2, 1, 1, 3]  # B's round 2 failed: no round 3
    assert results[1].status == "failed" and results[1].error == "RuntimeError: worker died"
    assert results[1].throughput is None and results[1].throughput_rounds == []
    assert [r.status for r in (results[0], results[2])] == ["ok", "ok"]


def test_a_configuration_that_cannot_run_here_is_measured_once_and_stays_skipped():
    measure = Recorder({3: [dict(status="skipped", error="pin on needs 4 CPUs")]})
    results = run_grid([A, B, C], measure, rounds=3)
    assert measure.calls.count(3) == 1 and measure.calls == [1, 2, 3, 2, 1, 1, 2]
    assert results[2].status == "skipped" and results[2].error == "pin on needs 4 CPUs"


def test_a_budget_running_out_mid_round_leaves_each_configuration_the_rounds_it_got(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(measure_module.time, "monotonic", lambda: clock[0])

    def measure(config):  # each measurement takes one second
        clock[0] += 1.0
        return ConfigResult(**config.to_dict(), **ok(float(config.batch)))

    results = run_grid([A, B, C], measure, rounds=3, budget_s=4.5)  # measured at 0, 1, 2, 3, 4 s: A B C C B
    assert [len(r.throughput_rounds) for r in results] == [1, 2, 2]
    assert all(r.status == "ok" for r in results)
    clock[0], seen = 0.0, []
    results = run_grid([A, B, C], measure, rounds=3, budget_s=1.5, progress=seen.append)  # A and B, then out
    assert [r.status for r in results] == ["ok", "ok", "skipped"]
    assert "time budget of 1.5 s ran out" in results[2].error
    assert [r.batch for r in seen] == [1, 2, 3]  # two measurements, then the configuration skipped


def test_rounds_must_be_at_least_one():
    with pytest.raises(ValueError, match="rounds must be >= 1, got 0"):
        run_grid([A], Recorder(), rounds=0)


def test_back_to_back_measures_a_configuration_its_rounds_in_a_row_stopping_at_one_that_did_not_measure():
    measure = Recorder({2: [ok(1.0), dict(status="failed", error="boom")], 3: [dict(status="skipped", error="no")]})
    three = back_to_back(measure, 3)
    assert three(A).throughput_rounds == [1.0] * 3 and measure.calls == [1, 1, 1]
    assert three(B).status == "failed" and measure.calls[3:] == [2, 2]
    assert three(C).status == "skipped" and measure.calls[5:] == [3]


def test_autotune_counts_configurations_each_measured_its_rounds_back_to_back():
    configs = Grid(threads=(1, 2), batch=(8, 16, 32), instances=(1, 2)).configs()
    calls = []

    def measure(config):
        calls.append(config)
        return ConfigResult(**config.to_dict(), **ok(float(config.batch * config.threads), p99=config.batch / 8))

    results = autotune(configs, back_to_back(measure, 3), slo_p99_ms=3.0, max_evaluations=4, seed=0)
    assert len(results) == 4 and len(calls) == 12
    assert calls == [SweepConfig(**r.knobs()) for r in results for _ in range(3)]  # three in a row each
    assert all(len(r.throughput_rounds) == 3 for r in results)
