"""POST /api/v1/runs/batch/: many reports in one request, each answered as
POST /api/v1/runs/ would answer it; refused reports are not stored, the
others are."""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.models import Machine
from results.models import LayerMeasurement, Run
from results.report_schema import MAX_BATCH_REPORTS
from results.signals import run_ingested
from tests.report_factory import make_report

from .conftest import machine_state, row_counts
from .test_api_fuzz import FUZZ, GARBAGE, mutated_reports

BATCH_URL = "/api/v1/runs/batch/"


@pytest.fixture
def upload_batch(client, token):
    def post(body, token: str | None = token):
        headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return client.post(BATCH_URL, data, content_type="application/json", **headers)

    return post


def test_it_stores_every_report_of_a_batch(upload_batch, machine):
    reports = [make_report(layers=3, time_scale=1 + i / 10) for i in range(5)]
    response = upload_batch({"reports": reports})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["replayed"], body["refused"]) == (5, 0, 0)
    ids = [item["id"] for item in body["results"]]
    assert [item["status"] for item in body["results"]] == [201] * 5
    assert body["results"][0] == {"status": 201, "id": ids[0], "url": f"/runs/{ids[0]}/", "created": True}
    runs = Run.objects.in_bulk(ids)
    assert [str(runs[i].idempotency_key) for i in ids] == [r["idempotency_key"] for r in reports]
    assert LayerMeasurement.objects.count() == 15
    assert [runs[i].median for i in ids] == [r["end_to_end"]["median"] for r in reports]


def test_a_bad_report_is_refused_alone_with_the_single_uploads_answer(upload_batch, upload, machine):
    bad = make_report(layers=2)
    bad["layers"][1]["time"]["median"] = -1
    good = make_report(layers=2)
    response = upload_batch({"reports": [good, bad]})
    single = upload(bad)
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["status"] == 201
    assert second == {"status": 400, **single.json()}
    assert "layers[1].time.median" in second["errors"]
    assert Run.objects.count() == 1


def test_replays_and_conflicts_are_answered_per_report(upload_batch, upload, machine):
    stored = make_report(layers=1)
    first_id = upload(stored).json()["id"]
    conflict = {**stored, "source": {**stored["source"], "commit": "other"}}
    new = make_report(layers=1)
    response = upload_batch({"reports": [stored, conflict, new, new]})
    results = response.json()["results"]
    assert [r["status"] for r in results] == [200, 409, 201, 200]
    assert results[0]["id"] == first_id and results[0]["created"] is False
    assert stored["idempotency_key"] in results[1]["detail"]
    assert results[3]["id"] == results[2]["id"]  # a repeated key within the batch replays its first report
    assert Run.objects.count() == 2


def test_another_machines_report_is_refused_with_403(upload_batch, machine):
    Machine.objects.create(name="m2", fingerprint="fp-other")
    response = upload_batch({"reports": [make_report(layers=1), make_report(fingerprint="fp-other", layers=1)]})
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 403]
    assert "'m2'" in results[1]["detail"]
    assert Run.objects.count() == 1


def test_a_batch_with_nothing_storable_writes_nothing(upload_batch, machine):
    Machine.objects.create(name="m2", fingerprint="fp-other")
    bad = make_report(layers=1)
    bad["schema"] = "roofwatch.run/0"
    before, state = row_counts(), machine_state(machine)
    response = upload_batch({"reports": [bad, make_report(fingerprint="fp-other", layers=1)]})
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == [400, 403]
    assert row_counts() == before and machine_state(machine) == state  # not even marked seen


def test_run_ingested_is_sent_once_per_new_run_after_commit(upload_batch, machine, django_capture_on_commit_callbacks):
    sent = []

    def receiver(sender, run_id, **kwargs):
        sent.append(run_id)

    run_ingested.connect(receiver)
    try:
        replayed = make_report(layers=1)
        with django_capture_on_commit_callbacks(execute=True):
            upload_batch({"reports": [replayed]})
        sent.clear()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            body = upload_batch({"reports": [replayed, make_report(layers=1), make_report(layers=1)]}).json()
    finally:
        run_ingested.disconnect(receiver)
    new_ids = [r["id"] for r in body["results"] if r["status"] == 201]
    assert len(callbacks) == 1 and sorted(sent) == sorted(new_ids)  # one on-commit callback for the upload


def test_the_tasks_of_an_upload_go_out_as_one_message_per_task(
    upload_batch, machine, django_capture_on_commit_callbacks, monkeypatch
):
    from core import task_batch
    from regressions.tasks import detect_series_group
    from results.tasks import refresh_series

    published = []
    monkeypatch.setattr(task_batch.run_each, "delay", lambda name, calls: published.append((name, calls)))
    for task in (detect_series_group, refresh_series):
        monkeypatch.setattr(task, "delay", lambda *args, task=task: published.append((task.name, [list(args)])))
    reports = [make_report(layers=1) for _ in range(3)] + [make_report(layers=1, model="other")]
    with django_capture_on_commit_callbacks(execute=True):
        body = upload_batch({"reports": reports}).json()

    runs = [Run.objects.get(pk=r["id"]) for r in body["results"]]
    groups = [[machine.pk, runs[0].benchmark_id], [machine.pk, runs[3].benchmark_id]]  # detection once per benchmark
    assert runs[0].benchmark_id == runs[2].benchmark_id != runs[3].benchmark_id
    assert sorted(published) == sorted([(detect_series_group.name, groups),
                                        (refresh_series.name, [[run.pk] for run in runs])])
    with django_capture_on_commit_callbacks(execute=True):  # a single run: the task itself, no wrapper
        single = upload_batch({"reports": [make_report(layers=1)]}).json()["results"][0]["id"]
    assert sorted(published[2:]) == sorted([(detect_series_group.name, [groups[0]]), (refresh_series.name, [[single]])])


def test_run_each_runs_the_task_once_per_call(monkeypatch):
    from core.task_batch import run_each
    from results.tasks import refresh_series

    seen = []
    monkeypatch.setattr(refresh_series, "run", seen.append)
    assert run_each(refresh_series.name, [[1], [2], [3]]) == 3
    assert seen == [1, 2, 3]


@pytest.mark.parametrize("body, path, message", [
    ([], "non_field_errors", "Expected a JSON object, got array."),
    ({}, "reports", "This field is required."),
    ({"reports": {}}, "reports", "Expected an array, got object."),
    ({"reports": []}, "reports", "Expected an array of length >= 1, got 0 items."),
    ({"reports": [{}] * (MAX_BATCH_REPORTS + 1)}, "reports",
     f"At most {MAX_BATCH_REPORTS} reports per batch, got {MAX_BATCH_REPORTS + 1}; split the upload."),
    ({"reports": [1], "extra": 1}, "extra", "Unknown field; expected only: reports."),
])
def test_a_bad_envelope_is_a_400_naming_it(upload_batch, machine, body, path, message):
    response = upload_batch(body)
    assert response.status_code == 400
    assert response.json()["errors"][path] == [message]
    assert row_counts() == {"Project": 0, "Benchmark": 0, "Run": 0, "LayerMeasurement": 0}


def test_it_needs_an_agent_token(upload_batch, machine):
    assert upload_batch({"reports": [make_report()]}, token=None).status_code == 401
    assert upload_batch({"reports": [make_report()]}, token="rw_not-a-token").status_code == 401
    assert not Run.objects.exists()


def test_the_body_limit_applies_to_the_whole_batch(upload_batch, machine, settings):
    settings.ROOFWATCH_MAX_REPORT_BYTES = 10_000
    response = upload_batch({"reports": [make_report(layers=20)] * 2})
    assert response.status_code == 413
    assert not Run.objects.exists()


@FUZZ
@given(reports=st.lists(mutated_reports(), min_size=1, max_size=4), envelope=st.sampled_from(["ok", "garbage"]),
       garbage=GARBAGE)
def test_fuzzed_batches_never_get_a_server_error_and_refusals_write_nothing(client, token, reports, envelope, garbage):
    body = {"reports": reports} if envelope == "ok" else garbage
    before = row_counts()
    response = client.post(BATCH_URL, json.dumps(body, allow_nan=True), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code in (200, 400), response.content[:2000]
    if response.status_code == 400:
        assert row_counts() == before
        return
    results = response.json()["results"]
    assert len(results) == len(reports) and all(r["status"] in (200, 201, 400, 403, 409) for r in results)
    if not any(r["status"] in (200, 201) for r in results):
        assert row_counts() == before


def test_a_broker_outage_after_the_commit_is_logged_not_raised(
    upload_batch, machine, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    from core import task_batch

    def down(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(task_batch.run_each, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_batch({"reports": [make_report(layers=1) for _ in range(2)]})

    assert response.status_code == 200 and response.json()["created"] == 2  # stored; the sweeps queue the rest
    assert "could not queue" in caplog.text
