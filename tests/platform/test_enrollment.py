"""Agents register with an enrollment token (POST /api/v1/agents/register) and
get a machine token; `manage.py enroll_token` issues, lists and revokes enrollment tokens."""
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from fleet.enrollment import BadEnrollmentToken, enroll_machine
from fleet.models import EnrollmentToken, Machine, hash_token
from tests.concurrency import race
from tests.conftest import need_service
from tests.report_factory import make_report

REGISTER_URL = "/api/v1/agents/register"


@pytest.fixture
def issue(db):
    def make(**fields) -> str:
        token, secret = EnrollmentToken.issue(label="tests")
        EnrollmentToken.objects.filter(pk=token.pk).update(**fields)
        return secret

    return make


def _register(client, enroll_token, name="edge-1", fingerprint="fp-edge-1", token=None):
    body = {"enroll_token": enroll_token, "name": name, "fingerprint": fingerprint}
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    return client.post(REGISTER_URL, body, content_type="application/json", **headers)


def test_it_creates_the_machine_and_returns_a_working_token(client, issue):
    response = _register(client, issue())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["machine"] == "edge-1" and body["token"].startswith("rw_")
    machine = Machine.objects.get(name="edge-1")
    assert machine.fingerprint == "fp-edge-1" and machine.token_hash == hash_token(body["token"])
    upload = client.post(
        "/api/v1/runs/", make_report(fingerprint="fp-edge-1"), content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {body['token']}",
    )
    assert upload.status_code == 201, upload.content
    assert EnrollmentToken.objects.get().uses == 1


def test_it_re_enrolls_a_machine_with_the_same_fingerprint_and_its_token_by_rotating_the_token(client, issue):
    secret = issue()
    first = _register(client, secret).json()["token"]
    second = _register(client, secret, token=first)
    assert second.status_code == 201
    assert second.json()["token"] != first
    assert Machine.objects.count() == 1
    assert Machine.objects.get().token_hash == hash_token(second.json()["token"])
    assert EnrollmentToken.objects.get().uses == 2


def test_it_refuses_a_name_taken_by_another_fingerprint(client, issue):
    secret = issue()
    token = _register(client, secret).json()["token"]
    response = _register(client, secret, fingerprint="fp-impostor")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "machine name 'edge-1' is taken by another machine (another fingerprint); choose another name."
    )
    assert Machine.objects.get().token_hash == hash_token(token)  # the owner keeps its token
    assert EnrollmentToken.objects.get().uses == 1


def test_it_refuses_a_name_created_with_agent_token_and_no_fingerprint(client, issue):
    Machine.objects.create(name="edge-1").rotate_token()
    response = _register(client, issue())
    assert response.status_code == 409
    assert "none yet (created with agent_token)" in response.json()["detail"]


def test_it_refuses_a_fingerprint_enrolled_under_another_name(client, issue):
    secret = issue()
    _register(client, secret)
    response = _register(client, secret, name="edge-renamed")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "fingerprint 'fp-edge-1' is already enrolled as machine 'edge-1'; register with name 'edge-1' to re-enroll it."
    )
    assert list(Machine.objects.values_list("name", flat=True)) == ["edge-1"]


def test_it_refuses_to_re_enroll_a_disabled_machine(client, issue):
    secret = issue()
    token = _register(client, secret).json()["token"]
    Machine.objects.update(enabled=False)
    response = _register(client, secret)
    assert response.status_code == 403
    assert response.json()["detail"] == "Machine 'edge-1' is disabled; an operator must enable it before it re-enrolls."
    assert Machine.objects.get().token_hash == hash_token(token)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"revoked": True}, "is revoked."),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "expired at"),
        ({"max_uses": 2, "uses": 2}, "is used up (2 of 2 uses)."),
    ],
)
def test_it_answers_401_for_an_unusable_enrollment_token(client, issue, fields, message):
    response = _register(client, issue(**fields))
    assert response.status_code == 401
    assert message in response.json()["detail"]
    assert Machine.objects.count() == 0


def test_it_answers_401_for_an_unknown_enrollment_token(client, issue):
    issue()
    response = _register(client, "rwe_guessed")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("Invalid enrollment token: unknown")
    assert Machine.objects.count() == 0


def test_it_stops_at_max_uses(client, issue):
    secret = issue(max_uses=2)
    assert [_register(client, secret, name=f"e{i}", fingerprint=f"fp{i}").status_code for i in range(3)] == [
        201, 201, 401,
    ]
    assert sorted(Machine.objects.values_list("name", flat=True)) == ["e0", "e1"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "edge-1", "fingerprint": "fp"}, "enroll_token"),
        ({"enroll_token": "x", "name": "bad name!", "fingerprint": "fp"}, "name"),
        ({"enroll_token": "x", "name": "edge-1", "fingerprint": ""}, "fingerprint"),
        ({"enroll_token": "x", "name": "edge-1", "fingerprint": "f" * 65}, "fingerprint"),
    ],
)
def test_it_rejects_a_malformed_body_naming_the_field(client, db, body, field):
    response = client.post(REGISTER_URL, body, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_the_command_prints_a_token_that_enrolls_once_per_allowed_use(client, db):
    out, err = io.StringIO(), io.StringIO()
    call_command("enroll_token", "--label", "rack-7", "--max-uses", "1", "--expires-days", "7", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    stored = EnrollmentToken.objects.get()
    assert stored.token_hash == hash_token(secret) and secret not in stored.token_hash
    assert (stored.label, stored.max_uses, stored.uses) == ("rack-7", 1, 0)
    assert timedelta(days=6, hours=23) < stored.expires_at - timezone.now() <= timedelta(days=7)
    assert "max 1 uses" in err.getvalue() and "shown once" in err.getvalue()
    assert _register(client, secret).status_code == 201
    assert _register(client, secret, name="edge-2", fingerprint="fp-2").status_code == 401


def test_the_command_lists_and_revokes_tokens(client, db):
    out = io.StringIO()
    call_command("enroll_token", "--label", "lab", stdout=out, stderr=io.StringIO())
    secret = out.getvalue().strip()
    pk = EnrollmentToken.objects.get().pk
    call_command("enroll_token", "--revoke", str(pk), stderr=io.StringIO())
    listing = io.StringIO()
    call_command("enroll_token", "--list", stdout=listing)
    assert listing.getvalue() == f"{pk}\tlab\tuses 0/unlimited\texpires never\tEnrollment token {pk} is revoked.\n"
    assert secret not in listing.getvalue()
    assert _register(client, secret).status_code == 401
    with pytest.raises(CommandError, match="No enrollment token with id 999"):
        call_command("enroll_token", "--revoke", "999")


def test_the_command_refuses_a_non_positive_limit(db):
    with pytest.raises(CommandError, match="expected a whole number of at least 1, got '0'"):
        call_command("enroll_token", "--max-uses", "0")


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_respect_max_uses():
    if connection.vendor != "postgresql":
        need_service(f"row locks need PostgreSQL, the test database is {connection.vendor} (set DATABASE_URL)")
    _, secret = EnrollmentToken.issue(max_uses=2)
    agents = 6

    def register(i: int) -> str:
        try:
            enroll_machine(secret, f"race-{i}", f"fp-race-{i}")
            return "enrolled"
        except BadEnrollmentToken:
            return "refused"

    outcomes = race(register, agents, timeout=60)
    assert sorted(outcomes) == ["enrolled"] * 2 + ["refused"] * 4
    assert Machine.objects.count() == 2 and EnrollmentToken.objects.get().uses == 2
