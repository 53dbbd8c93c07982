"""Autotune: optuna searches the grid for the highest throughput within a
p99 SLO, measuring each configuration at most once and no more than it is
allowed; `sweep --slo-p99-ms` writes what it measured as an autotune report."""
from __future__ import annotations

import json

from engine.cli import main
from engine.sweep.autotune import autotune
from engine.sweep.grid import Grid
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
    found_at = best_under_slo([p for _, p in measured_points(results)], slo)
    assert found_at is not None
    assert results[found_at].throughput >= 0.95 * best
    assert results[found_at].p99_ms <= slo


def test_configurations_that_cannot_run_are_never_chosen():
    def measure(config):
        if config.pin == "on":
            return ConfigResult(**config.to_dict(), status="skipped", error="no CPUs")
        return landscape(config)

    results = autotune(GRID.configs(), measure, slo_p99_ms=1e9, max_evaluations=20, seed=0)
    found_at = best_under_slo([p for _, p in measured_points(results)], 1e9)
    assert results[found_at].pin == "off"


def test_sweep_with_an_slo_writes_an_autotune_report_of_what_it_measured(tmp_path, capsys):
    out = tmp_path / "tune.json"
    code = main(["sweep", "mlp", "--param", "sizes=16,32,4", "--threads", "1", "--batch", "1,2,4,8",
                 "--repeats", "3", "--warmup", "0", "--slo-p99-ms", "1000", "--max-evaluations", "2",
                 "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["mode"] == "autotune" and report["slo_p99_ms"] == 1000
    assert len(report["results"]) == 2 and all(r["status"] == "ok" for r in report["results"])
    assert "B best under p99 1000 ms" in capsys.readouterr().out
