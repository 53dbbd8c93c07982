"""An idempotency key stores one run: a replay answers it again, another payload is a conflict."""
import json

from django.db import IntegrityError

from results import ingest
from results.canonical import canonical_sha256
from results.models import LayerMeasurement, Run
from tests.report_factory import make_report

from .conftest import machine_state


def test_it_answers_a_replay_with_the_stored_run(upload):
    report = make_report()
    first = upload(report)
    again = upload(report)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == {**first.json(), "created": False}
    assert Run.objects.count() == 1 and LayerMeasurement.objects.count() == 4


def test_it_treats_a_reformatted_body_as_the_same_payload(upload):
    report = make_report()
    assert upload(report).status_code == 201
    assert upload(json.dumps(report, indent=4, sort_keys=True)).status_code == 200


def test_it_treats_a_report_with_its_defaults_spelt_out_as_the_same_payload(upload):
    report = make_report()
    assert upload(report).status_code == 201
    assert upload({**report, "purpose": "", "accuracy": None, "timed_page_faults": None}).status_code == 200


def test_a_run_stored_with_the_hash_of_before_msgspec_is_still_replayed(upload):
    """Runs stored before the Structs carry the canonical JSON hash of the body as sent."""
    report = make_report()
    assert upload(report).status_code == 201
    Run.objects.update(payload_sha256=canonical_sha256(report))
    assert upload(json.dumps(report, indent=2)).status_code == 200
    Run.objects.update(payload_sha256=canonical_sha256({**report, "warmup": 99}))
    assert upload(report).status_code == 409


def test_it_refuses_the_same_key_with_another_payload(upload, machine):
    report = make_report()
    assert upload(report).status_code == 201
    before = machine_state(machine)
    changed = {**report, "source": {**report["source"], "commit": "def456"}}
    response = upload(changed)
    assert response.status_code == 409
    assert report["idempotency_key"] in response.json()["detail"]
    assert Run.objects.count() == 1 and Run.objects.get().commit == "abc123"
    assert machine_state(machine) == before


def first_lookup_misses_the_winner(monkeypatch) -> list:
    """Make ingest's first lookup of stored keys find nothing, as if the other
    upload of the key committed just after it; returns the lookups made."""
    real_lookup = ingest._stored_runs
    lookups = []

    def lookup(keys):
        lookups.append(keys)
        return {} if len(lookups) == 1 else real_lookup(keys)

    monkeypatch.setattr(ingest, "_stored_runs", lookup)
    return lookups


def test_it_answers_a_concurrent_replay_that_lost_the_insert_race(upload, monkeypatch):
    """The other upload of this key committed between our lookup and our insert:
    the unique key fails, the transaction rolls back and the second pass finds the stored run."""
    report = make_report()
    winner = upload(report).json()["id"]
    lookups = first_lookup_misses_the_winner(monkeypatch)
    response = upload(report)
    assert response.status_code == 200, response.content
    assert response.json() == {"id": winner, "url": f"/runs/{winner}/", "created": False}
    assert len(lookups) == 2  # the insert was tried, failed on the unique key, and the run re-read
    assert Run.objects.count() == 1 and LayerMeasurement.objects.count() == 4


def test_it_reports_a_conflict_for_a_concurrent_upload_with_another_payload(upload, monkeypatch):
    report = make_report()
    assert upload(report).status_code == 201
    lookups = first_lookup_misses_the_winner(monkeypatch)
    response = upload({**report, "source": {**report["source"], "commit": "other"}})
    assert response.status_code == 409
    assert len(lookups) == 2  # the insert failed on the unique key, and the second pass found the conflict
    assert Run.objects.count() == 1


def test_it_does_not_swallow_integrity_errors_of_other_causes(machine, monkeypatch):
    def broken_create(*args, **kwargs):
        raise IntegrityError("some other constraint")

    monkeypatch.setattr(ingest, "_create_runs", broken_create)
    try:
        ingest.ingest_report(make_report(), machine)
    except IntegrityError as exc:
        assert "some other constraint" in str(exc)
    else:
        raise AssertionError("IntegrityError was swallowed")
    assert Run.objects.count() == 0
