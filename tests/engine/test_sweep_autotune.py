"""Autotune: optuna searches the grid for the highest throughput within a
p99 SLO, measuring each configuration at most once and no more than it is
allowed; `sweep --slo-p99-ms` writes what it measured as an autotune report."""
from __future__ import annotations

import json
from pathlib import Path

from engine.cli import main
from engine.sweep.autotune import other_knobs, autotune, score
from engine.sweep.grid import Grid, SweepConfig
from engine.sweep.report import ConfigResult, best_under_slo, measured_points

GRID = Grid(threads=(1, 2, 4, 8), batch=(16, 32, 64, 128, 256, 512), instances=(1, 2), pin=("off", "on"))


def landscape(config):
    """A made-up machine: throughput grows with batch, threads and instances; so does p99."""
    throughput = config.batch ** 0.5 * config.threads ** 0.7 * config.instances ** 0.5 * (1.1 if config.pin == "on"
                                                                                         else 1.0)
    p99 = config.batch * config.instances / config.threads ** 0.8 / 10
    return ConfigResult(**config.to_dict(), status="ok", throughput=throughput, p99_ms=p99)


def test_autotune_measures_each_configuration_once_within_its_allowance_and_finds_the_best():
    configs = GRID.configs()
    calls = []

    def measure(config):
        calls.append(config)
        return landscape(config)

    slo = 8.0
    results = autotune(configs, measure, slo_p99_ms=slo, max_evaluations=38, seed=3)
    assert len(results) == len(calls) == len(set(calls)) <= 38
    everything = [landscape(c) for c in configs]
    best = everything[best_under_slo([p for _, p in measured_points(everything)], slo)].throughput
    indexed = measured_points(results)
    found_at = best_under_slo([p for _, p in indexed], slo)
    assert found_at is not None
    found = results[indexed[found_at][0]]
    assert found.throughput >= 0.95 * best
    assert found.p99_ms <= slo


def test_a_configuration_over_the_slo_scores_less_the_further_over_it_is():
    def result(throughput, p99, status="ok"):
        return ConfigResult(**SweepConfig(1, 64, 1).to_dict(), status=status, throughput=throughput, p99_ms=p99)

    assert score(result(100.0, 4.0), 5.0) == score(result(100.0, 5.0), 5.0) == 100.0  # within: its throughput
    assert score(result(100.0, 10.0), 5.0) == 100.0 / 8  # twice the SLO: an eighth
    assert score(result(100.0, 6.0), 5.0) > score(result(100.0, 7.0), 5.0) > 0
    assert score(result(None, None, status="skipped"), 5.0) == 0.0


def test_a_batch_past_one_over_the_slo_is_never_measured():
    configs = GRID.configs()
    slo = 3.0
    for seed in range(5):
        results = autotune(configs, landscape, slo_p99_ms=slo, max_evaluations=38, seed=seed)
        over = [r for r in results if r.p99_ms > slo]
        assert over  # the search did step over the SLO, so the rule had something to rule out
        for i, r in enumerate(results):
            earlier_over = [o for o in results[:i] if o in over and o.batch < r.batch]
            assert not any(other_knobs(o) == other_knobs(r) for o in earlier_over), r


def test_configurations_that_cannot_run_are_never_chosen():
    def measure(config):
        if config.pin == "on":
            return ConfigResult(**config.to_dict(), status="skipped", error="no CPUs")
        return landscape(config)

    results = autotune(GRID.configs(), measure, slo_p99_ms=1e9, max_evaluations=20, seed=0)
    assert any(r.status == "skipped" for r in results)  # it did try some and learned they cannot run
    indexed = measured_points(results)  # (index into results, point) of those measured
    found_at = best_under_slo([p for _, p in indexed], 1e9)
    assert results[indexed[found_at][0]].pin == "off"


def test_sweep_with_an_slo_writes_an_autotune_report_of_what_it_measured(tmp_path, capsys):
    out = tmp_path / "tune.json"
    code = main(["sweep", "mlp", "--param", "sizes=16,32,4", "--threads", "1", "--batch", "1,2,4,8",
                 "--repeats", "3", "--warmup", "0", "--slo-p99-ms", "1000", "--max-evaluations", "2",
                 "--rounds", "2", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["mode"] == "autotune" and report["slo_p99_ms"] == 1000
    assert len(report["results"]) == 2 and all(r["status"] == "ok" for r in report["results"])
    assert report["rounds"] == 2 and all(len(r["throughput_rounds"]) == 2 for r in report["results"])
    printed = capsys.readouterr().out
    assert "B best under p99 1000 ms" in printed and "medians over 2 rounds (back to back)" in printed


def _benchmark():
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "autotune_vs_grid.py"
    spec = importlib.util.spec_from_file_location("autotune_vs_grid", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_replays_over_a_sweep_report_and_re_measures_in_alternating_blocks(capsys):
    bench = _benchmark()
    report = str(Path(__file__).resolve().parents[1] / "sweep_reports" / "dlrm_grid.json")
    assert bench.main(["--grid-from", report, "--seeds", "3"]) == 0
    out = capsys.readouterr().out
    assert "grid: 8 of 8 measured" in out and "3 evaluations (38% of the grid)" in out
    assert bench.main(["--made-up", "2", "--seeds", "2", "--batch", "32,64", "--pin", "off"]) == 0
    assert "made-up landscapes (not measurements): 2 over a grid of 8, 2 seeds each, at most 3 evaluations" in (
        capsys.readouterr().out)
    pick, best = (ConfigResult(**c.to_dict(), status="ok", throughput=1.0) for c in (SweepConfig(1, 16, 1), SweepConfig(1, 32, 1)))
    order = []

    def measure(config):
        order.append(config)
        return ConfigResult(**config.to_dict(), status="ok", throughput=float(config.batch), p99_ms=config.batch / 8)

    got = bench.remeasure(pick, best, measure, 3)
    assert got == {"pick": {"throughput": [16.0] * 3, "p99_ms": [2.0] * 3},
                   "grid_best": {"throughput": [32.0] * 3, "p99_ms": [4.0] * 3}}
    assert [c.batch for c in order] == [16, 32, 32, 16, 16, 32]
