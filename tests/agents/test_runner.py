import json
import sys

import pytest

from agents.runner import STDERR_TAIL, BenchmarkFailed, engine_args, run_benchmark

from .conftest import ENGINE_MODEL

# A stand-in engine: python -c CODE gets the run's arguments in sys.argv[1:].
WRITE_ARGS = (
    "import json, sys; a = sys.argv[1:]; "
    "open(a[a.index('--json') + 1], 'w').write(json.dumps({'argv': a}))"
)


def fake_engine(code):
    return (sys.executable, "-c", code)


def test_engine_args_pass_only_the_options_given(tmp_path):
    assert engine_args("mlp", tmp_path / "r.json") == ["run", "mlp", "--json", str(tmp_path / "r.json")]
    assert engine_args("mlp", tmp_path / "r.json", batch=8, repeats=3, warmup=0)[4:] == [
        "--batch", "8", "--repeats", "3", "--warmup", "0",
    ]


def test_a_successful_run_returns_the_reports_bytes_and_cleans_up(tmp_path):
    body = run_benchmark("mlp", batch=8, repeats=2, workdir=tmp_path, engine=fake_engine(WRITE_ARGS))
    argv = json.loads(body)["argv"]
    assert argv[:2] == ["run", "mlp"] and argv[-4:] == ["--batch", "8", "--repeats", "2"]
    assert "--warmup" not in argv
    assert list(tmp_path.iterdir()) == []


def test_a_failing_engine_gives_its_exit_code_and_the_tail_of_stderr(tmp_path):
    code = "import sys; sys.stderr.write('noise ' * 1000 + 'the real reason'); sys.exit(3)"
    with pytest.raises(BenchmarkFailed) as err:
        run_benchmark("mlp", workdir=tmp_path, engine=fake_engine(code))
    e = err.value
    assert e.returncode == 3 and not e.timed_out and not e.is_usage_error
    assert e.stderr_tail.endswith("the real reason")
    assert len(e.stderr_tail) <= STDERR_TAIL
    assert "exit code 3" in str(e) and "the real reason" in str(e)
    assert list(tmp_path.iterdir()) == []


def test_a_run_past_its_timeout_is_killed(tmp_path):
    code = "import sys, time; sys.stderr.write('started\\n'); sys.stderr.flush(); time.sleep(60)"
    with pytest.raises(BenchmarkFailed) as err:
        run_benchmark("mlp", timeout=1.0, workdir=tmp_path, engine=fake_engine(code))
    e = err.value
    assert e.timed_out and e.returncode != 0
    assert "timed out after 1 s" in str(e) and e.stderr_tail == "started"


def test_exiting_zero_without_a_report_is_a_failure(tmp_path):
    with pytest.raises(BenchmarkFailed, match="wrote no report") as err:
        run_benchmark("mlp", workdir=tmp_path, engine=fake_engine("pass"))
    assert err.value.returncode == 0


def test_the_real_engine_refuses_an_unknown_model_as_a_usage_error(tmp_path, engine_env):
    with pytest.raises(BenchmarkFailed) as err:
        run_benchmark("no-such-model", workdir=tmp_path)
    e = err.value
    assert e.returncode == 2 and e.is_usage_error
    assert "no-such-model" in e.stderr_tail and ENGINE_MODEL in e.stderr_tail


def test_the_real_engine_writes_a_run_report(tmp_path, engine_env):
    body = run_benchmark(ENGINE_MODEL, batch=8, repeats=2, warmup=1, workdir=tmp_path)
    doc = json.loads(body)
    assert doc["schema"] == "roofwatch.run/1"
    assert doc["benchmark"]["model"] == ENGINE_MODEL and doc["benchmark"]["params"]["batch"] == 8
    # warmup: the pairs really run, more than asked while pages still faulted (engine.profile)
    assert doc["repeats"] == 2 and doc["warmup"] >= 1 and isinstance(doc["timed_page_faults"], int)
