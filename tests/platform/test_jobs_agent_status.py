"""An agent reports its spool and upload state with each claim; the machine
keeps it for fleet health."""
from fleet.models import Machine

CLAIM = "/api/v1/jobs/claim"
STATUS = {"pending": 3, "rejected": 1, "last_upload": "2026-11-23T10:00:00+00:00",
          "last_error": "cannot connect", "last_error_at": "2026-11-23T10:05:00+00:00"}


def post(client, token, body):
    return client.post(CLAIM, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")


def test_a_claim_with_agent_status_records_it_on_the_machine(client, machine, token):
    assert post(client, token, {"agent": STATUS}).status_code == 204
    stored = Machine.objects.get(pk=machine.pk).agent_status
    assert stored["pending"] == 3 and stored["rejected"] == 1 and stored["last_error"] == "cannot connect"
    assert stored["last_upload"].startswith("2026-11-23T10:00:00")


def test_a_claim_without_agent_status_leaves_it_alone(client, machine, token):
    post(client, token, {"agent": STATUS})
    assert post(client, token, {}).status_code == 204
    assert Machine.objects.get(pk=machine.pk).agent_status["pending"] == 3


def test_a_bad_agent_status_is_a_400_naming_the_field_and_records_nothing(client, machine, token):
    response = post(client, token, {"agent": {**STATUS, "pending": -1}})
    assert response.status_code == 400
    assert "agent.pending" in str(response.json())
    assert Machine.objects.get(pk=machine.pk).agent_status is None
