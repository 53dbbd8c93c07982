"""A report must come from the machine whose token uploads it."""
from fleet.models import Machine
from results.models import Run
from tests.report_factory import make_report

from .conftest import machine_state, row_counts

NOTHING = {"Project": 0, "Benchmark": 0, "Run": 0, "LayerMeasurement": 0}


def test_it_adopts_the_fingerprint_of_a_new_machines_first_report(upload, machine):
    assert upload(make_report(fingerprint="fp-a")).status_code == 201
    assert Machine.objects.get(pk=machine.pk).fingerprint == "fp-a"


def test_it_rejects_other_machines_fingerprint_with_this_machines_token(upload, machine):
    other = Machine.objects.create(name="m2", fingerprint="fp-b")
    before, other_before = machine_state(machine), machine_state(other)
    response = upload(make_report(fingerprint="fp-b"))
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "'fp-b'" in detail and "'m2'" in detail and "'m1'" in detail
    assert row_counts() == NOTHING
    assert machine_state(machine) == before and machine_state(other) == other_before


def test_it_rejects_other_machines_fingerprint_even_after_this_machine_has_its_own(upload, machine):
    assert upload(make_report(fingerprint="fp-a")).status_code == 201
    Machine.objects.create(name="m2", fingerprint="fp-b")
    before = machine_state(machine)
    response = upload(make_report(fingerprint="fp-b"))
    assert response.status_code == 403
    assert "'m2'" in response.json()["detail"]
    assert Run.objects.count() == 1
    assert machine_state(machine) == before


def test_it_rejects_a_new_fingerprint_for_a_machine_that_has_one(upload, machine):
    assert upload(make_report(fingerprint="fp-a")).status_code == 201
    before = machine_state(machine)
    response = upload(make_report(fingerprint="fp-moved"))
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "'fp-moved'" in detail and "'fp-a'" in detail and "'m1'" in detail
    assert Run.objects.count() == 1
    assert machine_state(machine) == before
