"""`manage.py agent_token` creates machines, prints tokens once, stores only hashes."""
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fleet.models import Machine, hash_token
from tests.report_factory import make_report


def _agent_token(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("agent_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_it_creates_the_machine_and_prints_a_token_that_authenticates(db, upload):
    token, notice = _agent_token("gpu-box-1")
    assert "Created machine 'gpu-box-1'" in notice
    machine = Machine.objects.get(name="gpu-box-1")
    assert upload(make_report(), token=token).status_code == 201
    assert machine.runs.count() == 1


def test_it_stores_only_the_hash_of_the_token(db):
    token, _ = _agent_token("gpu-box-1")
    machine = Machine.objects.get(name="gpu-box-1")
    assert machine.token_hash == hash_token(token)
    assert token not in {str(v) for v in Machine.objects.filter(name="gpu-box-1").values().get().values()}


def test_it_rotates_the_token_of_an_existing_machine(db, upload):
    old, _ = _agent_token("gpu-box-1")
    new, notice = _agent_token("gpu-box-1")
    assert "Rotated the token of machine 'gpu-box-1'" in notice
    assert new != old and Machine.objects.filter(name="gpu-box-1").count() == 1
    assert upload(make_report(), token=old).status_code == 401
    assert upload(make_report(), token=new).status_code == 201


def test_it_revokes_a_token(db, upload):
    token, _ = _agent_token("gpu-box-1")
    out, notice = _agent_token("gpu-box-1", "--revoke")
    assert out == "" and "Revoked" in notice
    assert Machine.objects.get(name="gpu-box-1").token_hash == ""
    assert upload(make_report(), token=token).status_code == 401


def test_it_refuses_to_revoke_the_token_of_an_unknown_machine(db):
    with pytest.raises(CommandError, match="No machine named 'ghost'"):
        _agent_token("ghost", "--revoke")
    assert not Machine.objects.exists()


def test_it_refuses_a_blank_machine_name(db):
    with pytest.raises(CommandError, match="must not be blank"):
        _agent_token("  ")
