"""Detection files a creeping drift as one alert of kind "drift" (its ramp's
first and last run, run_after where it reached the threshold), idempotently,
instead of step alerts inside the ramp; under the series' policy."""
import pytest

from engine.report import END_TO_END
from fleet.models import Machine
from regressions.detection import detect_benchmark
from regressions.models import DRIFT, IMPROVED, REGRESSION, STEP, Alert, DetectionPolicy
from tests.regressions.history import history, ingest_all, scale_layer

pytestmark = pytest.mark.django_db

RAMP = range(40, 70)  # fc0 grows 1% a run: 30% over 30 runs, then stays


def ramped(machine: Machine):
    reports = history(90, layers=2, seed=3)
    for i, report in enumerate(reports):
        if i >= RAMP.start:
            scale_layer(report, "fc0", 1 + 0.01 * (min(i, RAMP.stop - 1) - RAMP.start + 1))
    return ingest_all(reports, machine)


def detect(runs) -> list[Alert]:
    return detect_benchmark(runs[0].machine_id, runs[0].benchmark_id)


def test_a_ramp_is_one_drift_alert_per_series_filed_once(db):
    runs = ramped(Machine.objects.create(name="m1"))
    index = {run.pk: i for i, run in enumerate(runs)}
    first = detect(runs)
    drifts = {a.layer: a for a in first if a.kind == DRIFT}
    assert set(drifts) == {END_TO_END, "fc0"}
    for alert in drifts.values():
        start, end = index[alert.ramp_start_id], index[alert.ramp_end_id]
        assert abs(start - RAMP.start) <= 3 and abs(end - (RAMP.stop - 1)) <= 3
        assert index[alert.run_before_id] == start - 1 and start < index[alert.run_after_id] < end
        assert alert.direction == REGRESSION and alert.rel_change > 0.1 and alert.is_new
    # no step alert of these series inside the ramp: the drift explains it
    assert not [a for a in first if a.kind == STEP and RAMP.start - 2 <= index[a.run_after_id] <= RAMP.stop + 2]
    commits = drifts[END_TO_END].summary.attribution["commits"]
    assert (commits["last_good"], commits["first_bad"]) == (runs[index[drifts[END_TO_END].run_before_id]].commit,
                                                            runs[index[drifts[END_TO_END].ramp_end_id]].commit)
    again = detect(runs)
    assert sorted(a.pk for a in again) == sorted(a.pk for a in first)
    assert not any(a.is_new for a in again)
    assert Alert.objects.filter(kind=DRIFT).count() == 2


def test_a_muted_series_files_no_drift_and_direction_follows_the_policy(db):
    runs = ramped(Machine.objects.create(name="m1"))
    benchmark = runs[0].benchmark
    for fields in ({"layer": "fc0", "muted": True}, {"layer": END_TO_END, "bad_direction": {"median": "down"}}):
        p = DetectionPolicy(benchmark=benchmark, **fields)
        p.full_clean()
        p.save()
    drifts = {a.layer: a for a in detect(runs) if a.kind == DRIFT}
    assert set(drifts) == {END_TO_END}
    assert drifts[END_TO_END].direction == IMPROVED
    assert drifts[END_TO_END].policy["bad_direction"] == {"value": "down", "source": "series"}


def test_flat_history_files_no_drift(db):
    runs = ingest_all(history(90, layers=2, seed=3), Machine.objects.create(name="m1"))
    assert not [a for a in detect(runs) if a.kind == DRIFT]


def test_the_api_serves_an_alerts_kind_and_ramp(client):
    runs = ramped(Machine.objects.create(name="m1"))
    drift = next(a for a in detect(runs) if a.kind == DRIFT)
    body = client.get(f"/api/v1/alerts/{drift.pk}/").json()
    assert (body["kind"], body["ramp_start"], body["ramp_end"]) == (DRIFT, drift.ramp_start_id, drift.ramp_end_id)
    listed = {a["id"]: a for a in client.get("/api/v1/alerts/", {"limit": 100}).json()["results"]}
    assert listed[drift.pk]["kind"] == DRIFT
