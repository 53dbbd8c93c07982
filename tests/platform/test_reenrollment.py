"""Re-registering an existing machine (POST /api/v1/agents/register) rotates its
token only with its current agent token or an operator's one-time approval; an
enrollment token alone (and the fingerprint, which anonymous readers never see)
is not enough to take a machine over."""
from datetime import timedelta

import pytest
from django.utils import timezone

from fleet.models import EnrollmentToken, Machine, hash_token
from tests.platform.test_enrollment import _register


@pytest.fixture
def enrolled(client, db) -> tuple[str, str]:
    """(enrollment secret, token) of machine edge-1, fingerprint fp-edge-1."""
    _, secret = EnrollmentToken.issue(label="tests")
    response = _register(client, secret)
    assert response.status_code == 201
    return secret, response.json()["token"]


def _unchanged(token: str, uses: int = 1) -> bool:
    machine = Machine.objects.get(name="edge-1")
    return machine.token_hash == hash_token(token) and EnrollmentToken.objects.get().uses == uses


def test_name_and_fingerprint_alone_do_not_re_enroll_a_machine(client, enrolled):
    secret, token = enrolled
    response = _register(client, secret)
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "Machine 'edge-1' is already enrolled: re-enrolling it needs its current agent token (Authorization: Token "
        "<token>) or an operator's approval (admin: Machines, action \"Allow re-enrollment\"); nothing was changed."
    )
    assert _unchanged(token)


def test_another_machines_token_does_not_re_enroll_it(client, enrolled):
    secret, token = enrolled
    other = Machine.objects.create(name="other").rotate_token()
    response = _register(client, secret, token=other)
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "The agent token sent is machine 'other''s, not 'edge-1''s; nothing was changed."
    )
    assert _unchanged(token)


def test_an_invalid_token_is_401_and_changes_nothing(client, enrolled):
    secret, token = enrolled
    response = _register(client, secret, token="rw_guessed")
    assert response.status_code == 401
    assert _unchanged(token)


def test_the_current_token_re_enrolls_and_stops_working(client, enrolled):
    secret, token = enrolled
    response = _register(client, secret, token=token)
    assert response.status_code == 201
    assert Machine.objects.get().token_hash == hash_token(response.json()["token"]) != hash_token(token)


def test_an_operators_approval_re_enrolls_once(client, enrolled, django_user_model):
    secret, token = enrolled
    machine = Machine.objects.get()
    client.force_login(django_user_model.objects.create_superuser("admin", "a@example.com", "pw-for-tests"))
    answer = client.post("/admin/fleet/machine/", {"action": "allow_reenrollment", "_selected_action": [machine.pk]})
    assert answer.status_code == 302
    client.logout()
    assert timezone.now() < Machine.objects.get().reenroll_until <= timezone.now() + timedelta(hours=24)
    first = _register(client, secret)
    assert first.status_code == 201
    assert Machine.objects.get().token_hash == hash_token(first.json()["token"])
    assert Machine.objects.get().reenroll_until is None
    again = _register(client, secret)
    assert again.status_code == 403
    assert Machine.objects.get().token_hash == hash_token(first.json()["token"])


def test_an_expired_approval_does_not_re_enroll(client, enrolled):
    secret, token = enrolled
    Machine.objects.update(reenroll_until=timezone.now() - timedelta(seconds=1))
    assert _register(client, secret).status_code == 403
    assert _unchanged(token)


def test_a_new_name_still_registers_without_a_token(client, enrolled):
    secret, _ = enrolled
    response = _register(client, secret, name="edge-2", fingerprint="fp-edge-2")
    assert response.status_code == 201
    assert sorted(Machine.objects.values_list("name", flat=True)) == ["edge-1", "edge-2"]
