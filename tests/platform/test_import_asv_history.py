"""`manage.py import_asv` on generated asv histories (benchmarks/asv_history.py):
environments as separate series, bulk batches, resuming, counts, git sources,
the detection sweep and what the command prints."""
from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from benchmarks.asv_history import STEP_EVERY, T0_MS, write_history
from regressions.models import Alert
from results import asv_import
from results.asv_import import Progress, import_asv_results, open_source
from results.models import Benchmark, Project, Run, Series
from tests.platform.conftest import row_counts

pytestmark = pytest.mark.django_db

FILES, RESULTS = 16, 10  # 2 machines x 2 environments x 4 commits; 6 plain + 1 parameterized (4 combinations)


@pytest.fixture
def history(tmp_path) -> Path:
    return write_history(tmp_path, FILES, RESULTS)


def result_files(results_dir: Path) -> list[Path]:
    return sorted(p for p in results_dir.glob("*/*.json") if p.name != "machine.json")


def nulls(results_dir: Path) -> int:
    return sum(v is None for p in result_files(results_dir)
               for row in json.loads(p.read_text())["results"].values() for v in row[0])


def state() -> dict:
    """Everything an import writes, to compare imports by."""
    return {**row_counts(), "series": sorted(Series.objects.values_list("machine_id", "benchmark_id", "points")),
            "alerts": Alert.objects.count()}


def test_each_environment_is_a_series_of_its_own_listed_with_its_environment(history, client):
    summary = import_asv_results(history, detect=False)

    assert summary.imported + summary.failed_results == FILES * RESULTS and summary.failed == 0
    assert set(Benchmark.objects.values_list("environment", flat=True)) == {"virtualenv-py3.10",
                                                                            "virtualenv-py3.11"}
    # one series per machine, benchmark, param combination and environment, each with its own commits
    assert Series.objects.count() == 2 * 2 * RESULTS
    per_series = Run.objects.values("machine", "benchmark").annotate(n=Count("id"))
    assert {row["n"] for row in per_series} <= {4, 3}  # 4 commits; 3 where a result was null
    assert {r.config["asv_env"] for r in Run.objects.all()} == set(Benchmark.objects.values_list("environment",
                                                                                                 flat=True))
    listed = client.get("/api/v1/series/", {"environment": "virtualenv-py3.11"}).json()
    items = listed["results"] if isinstance(listed, dict) else listed
    assert len(items) == 2 * RESULTS and {i["environment"] for i in items} == {"virtualenv-py3.11"}


def test_the_project_name_comes_from_an_asv_conf_json_with_comments(history):
    assert "//" in (history.parent / "asv.conf.json").read_text()  # as `asv quickstart` writes it
    import_asv_results(history, detect=False)
    assert list(Project.objects.values_list("name", flat=True)) == ["generated"]


def test_it_stores_in_batches_and_an_interrupted_import_run_again_continues_without_duplicates(
        history, tmp_path, monkeypatch):
    clean = write_history(tmp_path / "clean", FILES, RESULTS)  # the same history, imported whole for reference
    monkeypatch.setattr(asv_import, "BATCH_RESULTS", 15)  # about one file per transaction
    real_insert, calls = asv_import._insert_runs, []

    def killed_on_the_third_batch(rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of a batch: it rolls back whole
        real_insert(rows)

    monkeypatch.setattr(asv_import, "_insert_runs", killed_on_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        import_asv_results(history, detect=False)
    stored_before = Run.objects.count()
    assert stored_before == calls[0] + calls[1] > 0  # two whole batches, nothing of the third

    monkeypatch.setattr(asv_import, "_insert_runs", real_insert)
    summary = import_asv_results(history, detect=False)
    assert summary.existing == stored_before and summary.imported == Run.objects.count() - stored_before
    assert Run.objects.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    # the catalogue counted every run once
    counted = Counter(Run.objects.values_list("machine_id", "benchmark_id"))
    assert {(m, b): p for m, b, p in Series.objects.values_list("machine_id", "benchmark_id", "points")} == counted
    assert not Run.objects.filter(catalogued=False).exists()
    resumed = Run.objects.count()
    Run.objects.all().delete()
    Series.objects.all().delete()
    assert import_asv_results(clean, detect=False).imported == resumed


def test_importing_again_changes_nothing(history):
    import_asv_results(history)
    before = state()
    summary = import_asv_results(history)
    assert summary.imported == 0 and summary.existing == before["Run"]
    assert state() == before


def test_failed_results_parameterized_benchmarks_and_version_changes_are_counted(history):
    summary = import_asv_results(history, detect=False)
    assert summary.failed_results == nulls(history) > 0  # asv's null: a failed or skipped measurement
    assert summary.imported == Run.objects.count() == FILES * RESULTS - nulls(history)
    parameterized = Run.objects.exclude(benchmark__params={}).count()
    assert summary.parameterized == parameterized == Run.objects.filter(benchmark__model__contains="TimeParam").count()
    # benchmark 1 changes its version halfway: once per machine and environment
    assert summary.version_changes == 2 * 2
    assert set(Run.objects.filter(benchmark__model="bench_gen.time_plain_001").values_list("model_version",
                                                                                          flat=True)) == {"v1", "v2"}


def test_a_truncated_file_is_named_with_the_reason_and_the_rest_is_imported(history, capsys):
    broken = result_files(history)[0]
    broken.write_text(broken.read_text()[:200])
    with pytest.raises(CommandError, match="1 file"):
        call_command("import_asv", str(history), "--no-detect")
    out, err = capsys.readouterr()
    assert f"error: {broken}: is not valid JSON (truncated?)" in err
    assert f"{FILES} files: " in out and "1 files failed" in out
    assert Run.objects.filter(config__asv_env__isnull=False).count() == int(out.split(" results imported")[0]
                                                                             .split(": ")[1])


def test_the_command_prints_one_summary_line(history, capsys):
    call_command("import_asv", str(history), "--no-detect")
    (line,) = capsys.readouterr().out.strip().splitlines()
    expected = FILES * RESULTS - nulls(history)
    assert line.startswith(f"{FILES} files: {expected} results imported, 0 already there, {nulls(history)} "
                           "skipped") and "0 files failed" in line


def test_progress_sees_every_file_and_the_sweep(history):
    seen = {"files": 0, "results": 0, "swept": []}

    class Recording(Progress):
        def start(self, files):
            seen["total"] = files

        def file_done(self, results):
            seen["files"] += 1
            seen["results"] += results

        def detecting(self, series):
            seen["series"] = series
            return seen["swept"].append

    summary = import_asv_results(history, progress=Recording())
    assert seen["total"] == seen["files"] == FILES and seen["results"] == summary.imported
    assert seen["series"] == Series.objects.count() and seen["swept"] == list(range(1, seen["series"] + 1))


def test_no_log_line_per_run_above_debug(history, caplog):
    caplog.set_level(logging.DEBUG)
    import_asv_results(history, detect=False)
    per_file = [r for r in caplog.records if r.name == "results.asv_import"]
    assert len(per_file) == FILES and {r.levelno for r in per_file} == {logging.DEBUG}
    assert not [r for r in caplog.records if r.levelno >= logging.INFO and "run" in r.getMessage().lower()
                and r.name.startswith(("results", "regressions", "celery"))]


def test_the_sweep_finds_the_steps_in_the_history_and_only_them(tmp_path):
    results_dir = write_history(tmp_path, 2 * 2 * 60, RESULTS)  # 60 commits; a 30% step at commit 30
    summary = import_asv_results(results_dir)
    stepped = {f"bench_gen.time_plain_{b:03d}" for b in range(0, 6, STEP_EVERY)}
    alerted = Alert.objects.filter(layer="end_to_end")
    assert summary.alerts == alerted.count() == 2 * 2 * len(stepped)
    assert set(alerted.values_list("benchmark__model", flat=True)) == stepped
    step_at = datetime.fromtimestamp((T0_MS + 30 * 3_600_000) / 1000, tz=timezone.utc)  # commit 30's date
    assert {a.run_after.started_at for a in alerted} == {step_at}


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(("git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args), cwd=cwd,
                          capture_output=True, text=True, check=True)
    return done.stdout


def test_it_reads_a_results_branch_straight_from_git(history, tmp_path, capsys):
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", "code", cwd=repo)
    git("checkout", "-q", "--orphan", "asv-results", cwd=repo)
    (repo / "asv.conf.json").write_text((history.parent / "asv.conf.json").read_text())
    subprocess.run(("cp", "-r", str(history), str(repo / "results")), check=True)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "results", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    assert not (repo / "results").exists()  # no checkout of the results branch

    call_command("import_asv", str(repo), "--branch", "asv-results", "--no-detect")
    from_git = state()
    assert "0 files failed" in capsys.readouterr().out and Project.objects.get().name == "generated"
    assert import_asv_results(open_source(history), detect=False).imported == 0  # the same runs as the directory
    assert state() == from_git


def test_a_bad_file_in_git_is_named_by_branch_and_path(history, tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(("cp", "-r", str(history), str(repo)), check=True)
    broken = result_files(repo)[0]
    broken.write_text("{")
    git("init", "-q", "-b", "results", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "results", cwd=repo)
    summary = import_asv_results(open_source(repo, "results"), detect=False)
    relative = broken.relative_to(repo).as_posix()
    assert summary.errors == [f"{repo}@results:{relative}: is not valid JSON (truncated?): "
                              "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"]


def test_an_unknown_branch_is_refused_naming_it(history):
    git("init", "-q", cwd=history)
    with pytest.raises(CommandError, match="no-such-branch"):
        call_command("import_asv", str(history), "--branch", "no-such-branch")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_command_draws_a_bar_with_files_results_rate_and_eta(history, monkeypatch, capsys):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    call_command("import_asv", str(history), "--no-detect")
    drawn = terminal.getvalue().split("\r")[-2]  # the last state of the bar before it closed
    expected = FILES * RESULTS - nulls(history)
    assert "import: 100%" in drawn and f"{FILES}/{FILES} [" in drawn and "<00:00" in drawn  # ETA
    assert f"{expected} results read, {expected} stored, " in drawn and " results/s" in drawn


def test_off_a_terminal_no_bar_is_drawn(history, capsys):
    call_command("import_asv", str(history), "--no-detect")
    assert capsys.readouterr().err == ""
