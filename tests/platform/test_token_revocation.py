"""A machine stops writing when its token is revoked (`agent_token NAME --revoke`)
or when it is disabled (Machine.enabled=False): its uploads get 401 with a
message saying why, and nothing is written."""
import io

from django.core.management import call_command

from fleet.models import Machine
from tests.report_factory import make_report

from .conftest import row_counts

NOTHING = {"Project": 0, "Benchmark": 0, "Run": 0, "LayerMeasurement": 0}


def test_a_revoked_token_can_no_longer_upload(upload, machine, token):
    call_command("agent_token", "m1", "--revoke", stderr=io.StringIO())
    response = upload(make_report())
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token: no machine has it (unknown, rotated or revoked)."
    assert row_counts() == NOTHING
    assert Machine.objects.get(pk=machine.pk).token_hash == ""


def test_a_revoked_machine_uploads_again_with_a_new_token(upload, machine, token):
    call_command("agent_token", "m1", "--revoke", stderr=io.StringIO())
    out = io.StringIO()
    call_command("agent_token", "m1", stdout=out, stderr=io.StringIO())
    assert upload(make_report(), token=token).status_code == 401
    assert upload(make_report(), token=out.getvalue().strip()).status_code == 201


def test_a_disabled_machine_cannot_upload_and_is_told_why(upload, machine, token):
    Machine.objects.filter(pk=machine.pk).update(enabled=False)
    response = upload(make_report())
    assert response.status_code == 401
    assert response.json()["detail"] == "Machine 'm1' is disabled."
    assert row_counts() == NOTHING


def test_enabling_a_machine_again_restores_its_token(upload, machine, token):
    Machine.objects.filter(pk=machine.pk).update(enabled=False)
    assert upload(make_report()).status_code == 401
    Machine.objects.filter(pk=machine.pk).update(enabled=True)
    assert upload(make_report()).status_code == 201
    assert row_counts()["Run"] == 1


def test_a_disabled_machine_keeps_its_runs_readable(client, upload, machine, token):
    run_id = upload(make_report()).json()["id"]
    Machine.objects.filter(pk=machine.pk).update(enabled=False)
    assert client.get(f"/api/v1/runs/{run_id}/").status_code == 200
    assert client.get("/api/v1/machines/m1/").json()["enabled"] is False
