import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.report import Report

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--batch", "4", "--param", "sizes=32,64,16", "--warmup", "1", "--repeats", "2"]


def test_run_prints_a_layer_table_and_writes_a_valid_report(probes, tmp_path, capsys):
    out = tmp_path / "reports" / "run.json"
    code = main(["run", "mlp", *SMALL, "--json", str(out), "--commit", "deadbeef", "--branch", "main",
                 "--repository", "https://example.com/r.git", "--ci-url", "https://ci.example.com/7"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "fc1" in printed and "relu1" in printed and "end to end: median" in printed
    report = Report.from_dict(json.loads(out.read_text()))
    assert report.benchmark.model == "mlp"
    assert report.benchmark.params["sizes"] == [32, 64, 16]
    assert len(report.layers) == 3 and all(ly.time.n == 2 for ly in report.layers)
    assert (report.source.commit, report.source.branch, report.source.ci_url) == (
        "deadbeef", "main", "https://ci.example.com/7")
    assert report.source.repository == "https://example.com/r.git"
    assert report.started_at.endswith("+00:00")
    assert [p.name for p in out.parent.iterdir()] == ["run.json"]  # no temp file left


def test_two_runs_get_different_idempotency_keys(probes, tmp_path):
    keys = set()
    for name in ("a.json", "b.json"):
        assert main(["run", "mlp", *SMALL, "--json", str(tmp_path / name)]) == 0
        keys.add(json.loads((tmp_path / name).read_text())["idempotency_key"])
    assert len(keys) == 2


def test_an_unknown_model_exits_2_listing_the_models_without_a_traceback():
    done = subprocess.run([sys.executable, "-m", "engine.cli", "run", "nosuchmodel"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown model 'nosuchmodel'" in done.stderr and "mlp(batch=64" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_params_exit_2_with_the_param_named(capsys):
    assert main(["run", "mlp", "--param", "sizes=32,x"]) == 2
    assert "param sizes: expected comma-separated integers, got '32,x'" in capsys.readouterr().err
    assert main(["run", "mlp", "--param", "depth=3"]) == 2
    assert "has no param 'depth'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["run", "mlp", "--batch", "0"], ["run", "mlp", "--repeats", "-1"],
                                  ["run", "mlp", "--threads", "two"]])
def test_bad_numbers_are_argparse_errors(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def test_models_lists_params_with_defaults(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "mlp:" in out and "batch" in out and "512,1024,1024,512,256" in out


def test_peaks_prints_the_roofs_of_one_thread_and_the_run(probes, capsys):
    assert main(["peaks", "--threads", "2"]) == 0
    out = capsys.readouterr().out
    assert "1 thread(s):" in out and "2 thread(s):" in out
    assert "100.0 GFLOP/s" in out and "10.0 GB/s" in out and "10.00 FLOP/byte" in out
    assert "gather GB/s by row size (random rows): 64 B 2.00, 256 B 5.00" in out
    assert probes.gemm == 2
    assert main(["peaks", "--threads", "2", "--remeasure"]) == 0
    assert probes.gemm == 4


def test_run_records_feature_flags_in_the_config(tmp_path, engine_cache_dir):
    import json
    import subprocess
    import sys

    from tests.conftest import REPO

    out = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", "mlp", "--batch", "2", "--param", "sizes=8,4",
         "--repeats", "1", "--warmup", "0", "--flag", "fast_path=true", "--flag", 'variant="b"', "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "ROOFWATCH_CACHE_DIR": str(engine_cache_dir)},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["config"]["flags"] == {"fast_path": True, "variant": "b"}


def test_a_flag_that_is_not_json_is_a_usage_error():
    import subprocess
    import sys

    from tests.conftest import REPO

    done = subprocess.run([sys.executable, "-m", "engine.cli", "run", "mlp", "--flag", "x=not json"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "flag x" in done.stderr and "not JSON" in done.stderr
