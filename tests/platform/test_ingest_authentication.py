"""Uploads need a live agent token of an enabled machine: otherwise 401, nothing written."""
import pytest

from fleet.models import Machine
from tests.report_factory import make_report

from .conftest import row_counts

NOTHING = {"Project": 0, "Benchmark": 0, "Run": 0, "LayerMeasurement": 0}


def _assert_401(response, *words):
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == "Token"
    detail = response.json()["detail"]
    for word in words:
        assert word in detail
    assert row_counts() == NOTHING


def test_it_rejects_an_upload_without_a_token(upload):
    _assert_401(upload(make_report(), token=None), "Authorization: Token <token>")


def test_it_rejects_an_unknown_token(upload):
    _assert_401(upload(make_report(), token="rw_not-a-real-token"), "Invalid token")


def test_it_rejects_a_revoked_token(upload, machine, token):
    machine.revoke_token()
    _assert_401(upload(make_report(), token=token), "revoked")


def test_it_rejects_a_rotated_out_token(upload, machine, token):
    machine.rotate_token()
    _assert_401(upload(make_report(), token=token), "Invalid token")


def test_it_rejects_the_token_of_a_disabled_machine(upload, machine):
    Machine.objects.filter(pk=machine.pk).update(enabled=False)
    _assert_401(upload(make_report()), "'m1' is disabled")


@pytest.mark.parametrize("header", ["Token", "Token a b", "token"])
def test_it_rejects_a_malformed_token_header(upload, header):
    _assert_401(upload(make_report(), token=None, HTTP_AUTHORIZATION=header), "Invalid Authorization header")


def test_it_refuses_another_scheme_with_401(upload, token):
    _assert_401(upload(make_report(), token=None, HTTP_AUTHORIZATION=f"Bearer {token}"),
                "Unsupported Authorization scheme 'Bearer'")


def test_it_refuses_uploads_from_a_logged_in_user(client, django_user_model):
    user = django_user_model.objects.create_user("alice", password="pw-for-tests")
    client.force_login(user)
    response = client.post("/api/v1/runs/", make_report(), content_type="application/json")
    assert response.status_code == 403
    assert "fleet machines" in response.json()["detail"]
    assert row_counts() == NOTHING


def test_it_accepts_the_token_whatever_the_keyword_case(upload, token):
    assert upload(make_report(), token=None, HTTP_AUTHORIZATION=f"token {token}").status_code == 201
