"""Detection for real: the engine measures a model, a run ingest commits on
PostgreSQL, run_ingested queues regressions.tasks.detect_series_group over
Redis, and a real worker process finds the slowdown the engine's fault
injection made, classifies it from the measurements and attributes it to the
commit that brought it: exactly one alert summary."""
import random
from datetime import datetime, timedelta, timezone

from engine.benchmark import RunOptions, run_benchmark
from engine.report import END_TO_END, Source
from fleet.models import Machine
from regressions.models import REGRESSION, AlertSummary
from regressions.tasks import detect_series_group
from results.ingest import ingest_report

MODEL, PARAMS = "mlp", {"batch": 64, "sizes": [512, 1024, 1024, 512]}
GOOD_RUNS, BAD_RUNS = 10, 5
SLOW_LAYER = "fc1"  # the first Linear: compute-bound at this size
SLOW_FACTOR = 10  # far above the 3x run-to-run swings of a loaded shared machine
START = datetime(2026, 2, 1, tzinfo=timezone.utc)


def measured_report(i: int, inject: list[str]) -> dict:
    """Run i of the history (its commit and started_at), measured now."""
    source = Source(repository="https://example.com/models", commit=f"commit{i:02d}", branch="main")
    run = run_benchmark(MODEL, PARAMS, RunOptions(warmup=3, repeats=15, threads=1, source=source, inject=inject))
    report = run.report.to_dict()
    report["started_at"] = (START + timedelta(hours=i)).isoformat()
    return report


def test_a_real_worker_files_one_classified_attributed_alert_for_an_injected_slowdown(
    celery_worker_process, engine_cache_dir, monkeypatch
):
    in_this_process = []  # so alerts can only come from the worker
    monkeypatch.setattr("regressions.tasks.detect_benchmark", lambda *args: in_this_process.append(args) or [])
    machine = Machine.objects.create(name="detect-e2e")
    # Measured in a shuffled order, so a drift of this shared machine while the
    # test runs is spread over the history as noise instead of making a step.
    count = GOOD_RUNS + BAD_RUNS
    reports = {}
    for i in random.Random(0).sample(range(count), count):
        reports[i] = measured_report(i, [f"compute:{SLOW_LAYER}:{SLOW_FACTOR}"] if i >= GOOD_RUNS else [])
    runs = []
    for i in range(count):  # ingested in history order, each queueing detection as agents' uploads do
        run, created = ingest_report(reports[i], machine)
        assert created
        runs.append(run)
    # The solo worker takes tasks in order: once this one is done, so are the ingests'.
    detect_series_group.delay(machine.pk, runs[-1].benchmark_id).get(timeout=120, disable_sync_subtasks=False)

    assert in_this_process == []
    summary = AlertSummary.objects.get()
    alerts = {alert.layer: alert for alert in summary.alerts.filter(vanished_at=None)}
    assert SLOW_LAYER in alerts, f"alerts on {sorted(alerts)}"
    slow = alerts[SLOW_LAYER]
    assert slow.direction == REGRESSION and slow.rel_change > 0.5
    assert slow.classification == "compute", slow.evidence
    assert summary.classification == "compute"
    commits = summary.attribution["commits"]
    assert (commits["last_good"], commits["first_bad"]) == (f"commit{GOOD_RUNS - 1:02d}", f"commit{GOOD_RUNS:02d}")
    assert summary.attribution["config"]["inject"]["after"] == [f"compute:{SLOW_LAYER}:{float(SLOW_FACTOR)}"]
    assert (slow.run_before, slow.run_after) == (runs[GOOD_RUNS - 1], runs[GOOD_RUNS])
    if END_TO_END in alerts:
        assert alerts[END_TO_END].direction == REGRESSION
