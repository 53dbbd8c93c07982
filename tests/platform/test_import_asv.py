"""`manage.py import_asv` on results written by a real `asv run` of a tiny suite."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from asv.results import Results
from django.core.management import CommandError, call_command

from fleet.models import Machine
from results.asv_files import param_value, parse_ram
from results.canonical import canonical_sha256
from results.asv_import import idempotency_key
from results.models import Benchmark, LayerMeasurement, Project, Run
from tests.platform.conftest import row_counts

SUITE = '''
def time_sum():
    sum(range(100))


class TimeSorted:
    params = ([10, 100], ["list", "tuple"])
    param_names = ["n", "kind"]

    def setup(self, n, kind):
        self.data = list(range(n)) if kind == "list" else tuple(range(n))

    def time_sorted(self, n, kind):
        sorted(self.data)
'''
SORTED = "bench_tiny.TimeSorted.time_sorted"
SUM = "bench_tiny.time_sum"


def run(*args: str, cwd: Path, env: dict) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def asv_results(tmp_path_factory) -> tuple[Path, str]:
    """(results dir, commit) after `asv run --quick` of a two-benchmark suite on machine test-box."""
    root = tmp_path_factory.mktemp("asv")
    env = {**os.environ, "HOME": str(root)}  # asv keeps its machine file in ~/.asv-machine.json
    repo = root / "repo"
    repo.mkdir()
    git = ("git", "-c", "user.name=t", "-c", "user.email=t@example.org")
    run(*git, "init", "-q", cwd=repo, env=env)
    run(*git, "commit", "-q", "--allow-empty", "-m", "one commit", cwd=repo, env=env)
    commit = run("git", "rev-parse", "HEAD", cwd=repo, env=env).strip()
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "__init__.py").write_text("")
    (root / "benchmarks" / "bench_tiny.py").write_text(SUITE)
    (root / "asv.conf.json").write_text(json.dumps({
        "version": 1, "project": "tiny", "project_url": "https://example.org/tiny", "repo": "repo",
        "environment_type": "existing", "benchmark_dir": "benchmarks", "results_dir": "results",
        "html_dir": "html", "branches": ["HEAD"],
    }))
    asv = (sys.executable, "-m", "asv")
    run(*asv, "machine", "--yes", "--machine", "test-box", "--os", "Linux test", "--arch", "x86_64",
        "--cpu", "Test CPU 3GHz", "--num_cpu", "4", "--ram", "8GB", cwd=root, env=env)
    run(*asv, "run", "--quick", "-E", f"existing:{sys.executable}", "--machine", "test-box",
        "--set-commit-hash", commit, cwd=root, env=env)
    return root / "results", commit


def result_file(results_dir: Path) -> Path:
    [path] = [p for p in (results_dir / "test-box").glob("*.json") if p.name != "machine.json"]
    return path


@pytest.mark.django_db
def test_it_imports_each_benchmark_and_param_combination_as_an_end_to_end_run(asv_results, capsys):
    results_dir, commit = asv_results
    call_command("import_asv", str(results_dir), "--no-detect")

    assert "1 files: 5 results imported, 0 already there" in capsys.readouterr().out
    asv = Results.load(str(result_file(results_dir)))  # asv's own reader, to compare against
    date = datetime.fromtimestamp(asv.date / 1000, tz=timezone.utc)
    machine = Machine.objects.get(name="test-box")
    assert (machine.cpu_model, machine.cores, machine.memory_bytes, machine.os) == (
        "Test CPU 3GHz", 4, 8 * 2**30, "Linux test"
    )
    assert machine.token_hash == "" and machine.fingerprint == ""
    assert Project.objects.get().name == "tiny"  # from asv.conf.json beside the results
    assert LayerMeasurement.objects.count() == 0

    expected = {(SUM, ())}
    expected |= {(SORTED, (("kind", kind), ("n", n))) for n in (10, 100) for kind in ("list", "tuple")}
    runs = Run.objects.select_related("benchmark")
    assert {(r.benchmark.model, tuple(sorted(r.benchmark.params.items()))) for r in runs} == expected
    for r in runs:
        params = [[repr(v)] for v in r.benchmark.params.values()]
        [value] = asv.get_result_value(r.benchmark.model, params)
        [stats] = asv.get_result_stats(r.benchmark.model, params)
        assert r.median == value
        assert (r.p25, r.p75) == (stats["q_25"], stats["q_75"])
        assert r.min <= r.median and r.n >= 1
        assert (r.commit, r.started_at, r.commit_time, r.machine_id) == (commit, date, date, machine.pk)
        assert r.model_version == asv._benchmark_version[r.benchmark.model]
        assert r.config["asv_env"] == asv.env_name
        assert r.benchmark.environment == asv.env_name  # "existing-py_...": it names the Python
        assert r.peak_gflops is None and r.peak_gbs is None and r.ridge_point is None
        assert r.idempotency_key == idempotency_key("test-box", r.benchmark.model, r.benchmark.params, commit,
                                                    asv.env_name)
        assert r.payload_sha256 == canonical_sha256([r.median, r.p25, r.p75, r.min, r.n, r.model_version, r.config])


@pytest.mark.django_db
def test_importing_the_same_results_twice_adds_nothing(asv_results, capsys):
    results_dir, _ = asv_results
    call_command("import_asv", str(results_dir), "--no-detect")
    before = row_counts()
    call_command("import_asv", str(results_dir), "--no-detect")

    assert "0 results imported, 5 already there" in capsys.readouterr().out
    assert row_counts() == before and Machine.objects.count() == 1


@pytest.mark.django_db
def test_it_files_runs_under_the_given_project_and_machine(asv_results):
    results_dir, _ = asv_results
    existing = Machine.objects.create(name="fleet-7", cpu_model="Reported by the agent", cores=16)
    call_command("import_asv", str(results_dir), "--project", "engine-asv", "--machine", "fleet-7", "--no-detect")

    assert set(Run.objects.values_list("machine__name", flat=True)) == {"fleet-7"}
    assert set(Benchmark.objects.values_list("project__name", flat=True)) == {"engine-asv"}
    existing.refresh_from_db()
    # Fields an agent reported stay; blank ones are filled from machine.json.
    assert (existing.cpu_model, existing.cores, existing.memory_bytes) == ("Reported by the agent", 16, 8 * 2**30)


@pytest.mark.django_db
def test_it_sends_no_signal_per_run_and_sweeps_detection_once_at_the_end(asv_results, monkeypatch,
                                                                        django_capture_on_commit_callbacks):
    from regressions import detection

    results_dir, _ = asv_results
    swept = []
    monkeypatch.setattr(detection, "detect_history", lambda m, b: swept.append((m, b)) or 0)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("import_asv", str(results_dir))
    assert callbacks == []  # no run_ingested (each would queue a catalogue and a detection task)
    assert sorted(swept) == sorted(Run.objects.values_list("machine_id", "benchmark_id"))  # each series once


def malformed_copy(results_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The results plus one hand-written file whose first benchmark is fine and whose second is not."""
    copy = tmp_path / "results"
    shutil.copytree(results_dir, copy)
    good = json.loads(result_file(results_dir).read_text())
    bad = {**good, "commit_hash": "f" * 40, "results": {
        SUM: good["results"][SUM],
        SORTED: [[1e-6, 2e-6, 3e-6], [["10", "100"], ["'list'", "'tuple'"]]],  # 3 values for 4 combinations
    }}
    bad_path = copy / "test-box" / "ffffffff-existing-py.json"
    bad_path.write_text(json.dumps(bad))
    return copy, bad_path


@pytest.mark.django_db
def test_a_malformed_file_is_named_with_its_problem_and_nothing_of_it_is_written(asv_results, tmp_path, capsys):
    results_dir, commit = asv_results
    copy, bad_path = malformed_copy(results_dir, tmp_path)

    with pytest.raises(CommandError, match="1 file"):
        call_command("import_asv", str(copy), "--no-detect")

    err = capsys.readouterr().err
    assert str(bad_path) in err
    assert f"benchmark '{SORTED}': column 'result' must be a list of 4 values" in err
    assert set(Run.objects.values_list("commit", flat=True)) == {commit}  # the good file only
    assert Run.objects.count() == 5


@pytest.mark.django_db
def test_a_file_that_is_not_json_is_named(asv_results, tmp_path, capsys):
    results_dir, _ = asv_results
    copy = tmp_path / "results"
    shutil.copytree(results_dir, copy)
    broken = copy / "test-box" / "0000000a-existing-py.json"
    broken.write_text('{"commit_hash": "0000000a", "results": {')

    with pytest.raises(CommandError):
        call_command("import_asv", str(copy), "--no-detect")
    assert f"{broken}: is not valid JSON (truncated?)" in capsys.readouterr().err
    assert Run.objects.count() == 5


@pytest.mark.django_db
def test_a_directory_without_benchmarks_json_is_refused_before_writing(tmp_path):
    with pytest.raises(CommandError, match="benchmarks.json: not found"):
        call_command("import_asv", str(tmp_path), "--no-detect")
    assert row_counts() == {"Project": 0, "Benchmark": 0, "Run": 0, "LayerMeasurement": 0}


@pytest.mark.parametrize("text, expected", [
    ("8GB", 8 * 2**30), ("16 GiB", 16 * 2**30), ("512M", 512 * 2**20), ("24583908000", 24583908000),
    (24583908000, 24583908000), ("", None), ("lots", None),
])
def test_it_reads_asv_ram_as_bytes(text, expected):
    assert parse_ram(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("10", 10), ("'list'", "list"), ("None", None), ("1.5", 1.5), ("nan", "nan"), ("<function f>", "<function f>"),
])
def test_it_reads_asv_param_reprs(text, expected):
    assert param_value(text) == expected


@pytest.mark.django_db
def test_the_run_page_of_an_imported_run_shows_without_peaks(asv_results, client):
    results_dir, _ = asv_results
    call_command("import_asv", str(results_dir), "--no-detect")
    response = client.get(Run.objects.first().get_absolute_url())
    assert response.status_code == 200
