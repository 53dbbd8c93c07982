"""`roofwatch-engine sweep`: every configuration measured in its own
processes, instances timed together, pinned ones on their own CPUs; the
report written atomically with the system knobs; bad input refused before
any process starts, a configuration that cannot run recorded with why."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from engine.cli import main
from engine.ir import Graph, Node, TensorSpec
from engine.onnx_io.export_graph import export_onnx
from engine.sweep.grid import SweepConfig
from engine.sweep.measure import SweepTarget, measure_config, run_grid
from engine.sweep.report import SWEEP_SCHEMA, ConfigResult

TINY = ["mlp", "--param", "sizes=16,32,4"]
QUICK = ["--repeats", "3", "--warmup", "0", "--rounds", "1"]
CPUS = len(os.sched_getaffinity(0))


def test_a_sweep_measures_every_configuration_and_writes_its_report(tmp_path, capsys):
    out = tmp_path / "sweeps" / "sweep.json"
    code = main(["sweep", *TINY, "--threads", "1", "--batch", "2,4", "--instances", "1,2", "--pin", "off",
                 "--pin", "on", *QUICK, "--json", str(out), "--commit", "abc123"])
    assert code == 0
    report = json.loads(out.read_text())
    assert [p.name for p in out.parent.iterdir()] == ["sweep.json"]  # no temp file left
    assert report["schema"] == SWEEP_SCHEMA and report["mode"] == "grid" and report["model"] == "mlp"
    assert report["params"] == {"sizes": [16, 32, 4]} and report["source"]["commit"] == "abc123"
    assert report["grid"] == {"threads": [1], "batch": [2, 4], "instances": [1, 2], "pin": ["off", "on"],
                              "passes": ["none"], "quant": ["none"]}
    assert set(report["knobs"]) == {"smt", "numa_nodes", "governor", "turbo", "affinity"}
    results = report["results"]
    assert len(results) == 8
    for r in results:
        if r["pin"] == "on" and r["instances"] > CPUS:
            assert r["status"] == "skipped" and "CPUs" in r["error"]
            continue
        assert r["status"] == "ok", r
        assert r["timed_passes"] == 3 * r["instances"]
        assert 0 < r["p50_ms"] <= r["p99_ms"]
        assert r["throughput"] == pytest.approx(r["batch"] * r["timed_passes"] / r["span_s"])
        if r["pin"] == "on":
            assert r["cores"] == [[c] for c in sorted(os.sched_getaffinity(0))[:r["instances"]]]
        else:
            assert r["cores"] is None
    printed = capsys.readouterr().out
    assert "samples/s" in printed and "Pareto front" in printed and "not changeable from user space here" in printed


def test_rounds_give_each_configuration_its_medians_and_the_table_their_range(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    assert main(["sweep", *TINY, "--threads", "1", "--batch", "2,4", "--repeats", "3", "--warmup", "0",
                 "--rounds", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["rounds"] == 2
    for r in report["results"]:
        assert r["status"] == "ok" and r["timed_passes"] == 2 * 3  # summed over the rounds
        assert len(r["throughput_rounds"]) == len(r["p99_ms_rounds"]) == 2
        assert r["throughput"] == pytest.approx(sum(r["throughput_rounds"]) / 2)  # the median of two
    printed = capsys.readouterr().out
    assert "medians over 2 rounds (interleaved over the grid)" in printed and "min-max/s" in printed
    low, high = report["results"][0]["throughput_rounds"]
    assert f"{min(low, high):.1f}-{max(low, high):.1f}" in printed


def test_a_configuration_whose_worker_fails_is_recorded_and_the_sweep_goes_on():
    target = SweepTarget("mlp", {"sizes": [3]})  # the model refuses one size when it is built
    result = measure_config(target, SweepConfig(1, 2, 1), repeats=2, warmup=0)
    assert result.status == "failed" and "need at least 2 sizes" in result.error
    assert result.throughput is None and result.p99_ms is None


def test_timed_passes_last_the_minimum_time_at_the_pace_the_warm_up_showed():
    target, config = SweepTarget("mlp", {"sizes": [16, 32, 4]}), SweepConfig(1, 2, 1)
    assert measure_config(target, config, repeats=3, warmup=5, min_time_s=0).timed_passes == 3
    filled = measure_config(target, config, repeats=3, warmup=5, min_time_s=0.3)
    assert filled.status == "ok" and filled.timed_passes > 3
    assert filled.span_s >= 0.1  # about 0.3 s, unless the timed passes ran 3x faster than the warm-up's median
    assert measure_config(target, config, repeats=3, warmup=0, min_time_s=0.3).timed_passes == 3  # no pace to go by


def test_configurations_after_the_budget_are_skipped_saying_so():
    def measure(config):
        return ConfigResult(**config.to_dict(), status="ok", throughput=1.0, p99_ms=1.0)

    configs = [SweepConfig(1, b, 1) for b in (1, 2, 3)]
    seen = []
    results = run_grid(configs, measure, budget_s=1e-9, progress=seen.append)
    assert [r.status for r in results] == ["skipped"] * 3 and seen == results
    assert "time budget of 1e-09 s ran out" in results[0].error
    assert [r.status for r in run_grid(configs, measure)] == ["ok"] * 3


@pytest.mark.parametrize("argv, message", [
    (["sweep", *TINY, "--param", "batch=4"], "give batch sizes with --batch"),
    (["sweep", *TINY, "--max-evaluations", "3"], "--max-evaluations bounds the autotune; give --slo-p99-ms too"),
    (["sweep"], "sweep needs a model name"),
    (["sweep", "nosuch"], "unknown model 'nosuch'"),
])
def test_bad_input_is_refused_before_any_process_starts(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["sweep", *TINY, "--threads", "1,0"], "must be >= 1, got 0"),
    (["sweep", *TINY, "--pin", "0-x"], "is not a CPU number"),
    (["sweep", *TINY, "--passes", "nosuch"], "nosuch"),
    (["sweep", *TINY, "--quant", "int3"], "int3"),
    (["sweep", *TINY, "--min-time-s", "-1"], "must be >= 0, got -1"),
    (["sweep", *TINY, "--min-time-s", "nan"], "must be >= 0, got nan"),
    (["sweep", *TINY, "--rounds", "0"], "must be >= 1, got 0"),
    (["sweep", *TINY, "--rounds", "101"], "must be <= 100, got 101"),
])
def test_bad_grid_values_are_argument_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_an_onnx_file_is_swept_at_its_fixed_batch(tmp_path, capsys):
    model = tmp_path / "tiny.onnx"
    assert main(["export-onnx", "mlp", str(model), "--batch", "3", "--param", "sizes=16,32,4"]) == 0
    assert main(["sweep", "--onnx", str(model), "--batch", "5"]) == 2
    assert "fixed batch of 3" in capsys.readouterr().err
    out = tmp_path / "sweep.json"
    assert main(["sweep", "--onnx", str(model), "--threads", "1", *QUICK, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["model"] == "onnx:tiny" and report["params"] == {"file": "tiny.onnx"}
    assert [(r["batch"], r["status"]) for r in report["results"]] == [(3, "ok")]


def lookup_onnx(path):
    """A Gather of an integer input with a symbolic batch: (N,) ids into a 10-row table."""
    graph = Graph(name="lookup", inputs=(TensorSpec("ids", "int64", (1,)),),
                  initializers={"table": np.ones((10, 3), np.float32)},
                  nodes=(Node("gather", "Gather", ("table", "ids"), ("rows",), {"axis": 0}),), outputs=("rows",))
    model = export_onnx(graph)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    path.write_bytes(model.SerializeToString())
    return path


def test_a_repository_onnx_file_is_swept_under_its_repo_path_with_its_input_ranges(tmp_path, capsys):
    model = lookup_onnx(tmp_path / "lookup.onnx")
    out = tmp_path / "sweep.json"
    assert main(["sweep", "--onnx", str(model), "--repo-path", "models/lookup.onnx", "--input-range", "ids=2:4",
                 "--batch", "2,4", "--threads", "1", *QUICK, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["model"] == "onnx"
    assert report["params"] == {"path": "models/lookup.onnx", "input_ranges": {"ids": [2, 4]}}
    assert [(r["batch"], r["status"]) for r in report["results"]] == [(2, "ok"), (4, "ok")]
    # the workers feed the ranges: ids past the table's 10 rows fail every configuration
    assert main(["sweep", "--onnx", str(model), "--input-range", "ids=50:60", "--batch", "2", "--threads", "1",
                 *QUICK, "--json", str(out)]) == 0
    assert [r["status"] for r in json.loads(out.read_text())["results"]] == ["failed"]


@pytest.mark.parametrize("argv, message", [
    (["--input-range", "nosuch=0:3", "--batch", "2"], "names 'nosuch', not input(s) of"),
    (["--input-range", "ids=5", "--batch", "2"], "NAME=LO:HI"),
    (["--repo-path", "../x.onnx", "--batch", "2"], "--repo-path: expected a normalized path"),
])
def test_bad_onnx_sweep_options_exit_2_naming_them(tmp_path, capsys, argv, message):
    model = lookup_onnx(tmp_path / "lookup.onnx")
    assert main(["sweep", "--onnx", str(model), *argv]) == 2
    assert message in capsys.readouterr().err


def test_onnx_options_without_an_onnx_file_are_refused(capsys):
    assert main(["sweep", *TINY, "--repo-path", "m/a.onnx"]) == 2
    assert "--input-range and --repo-path go with --onnx FILE" in capsys.readouterr().err
