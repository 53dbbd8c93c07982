"""The admin lists fleet and results data and never offers token hashes for editing."""
import pytest

from fleet.models import Machine
from results.models import LayerMeasurement, Run
from tests.report_factory import make_report


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-for-tests")
    client.force_login(user)
    return client


@pytest.fixture
def stored_run(upload) -> Run:
    assert upload(make_report()).status_code == 201
    return Run.objects.get()


@pytest.mark.parametrize(
    "page",
    [
        "/admin/fleet/machine/",
        "/admin/results/project/",
        "/admin/results/benchmark/",
        "/admin/results/run/",
        "/admin/results/run/?branch=main",
        "/admin/results/layermeasurement/",
        "/admin/fleet/enrollmenttoken/",
        "/admin/results/series/",
    ],
)
def test_the_admin_lists_render(admin_client, stored_run, page):
    assert admin_client.get(page).status_code == 200


def test_the_machine_form_has_no_token_hash(admin_client, machine, token):
    page = admin_client.get(f"/admin/fleet/machine/{machine.pk}/change/").content.decode()
    assert "token_hash" not in page and Machine.objects.get(pk=machine.pk).token_hash not in page


def test_runs_and_layers_are_read_only(admin_client, stored_run):
    layer = LayerMeasurement.objects.filter(run=stored_run).first()
    for url in (f"/admin/results/run/{stored_run.pk}/change/", f"/admin/results/layermeasurement/{layer.pk}/change/"):
        page = admin_client.get(url).content.decode()
        assert 'name="_save"' not in page
    assert admin_client.get("/admin/results/run/add/").status_code == 403


def test_the_revoke_action_clears_tokens(admin_client, machine, token):
    response = admin_client.post(
        "/admin/fleet/machine/", {"action": "revoke_tokens", "_selected_action": [machine.pk]}
    )
    assert response.status_code == 302
    assert Machine.objects.get(pk=machine.pk).token_hash == ""


def test_enrollment_tokens_are_revoked_in_the_admin_and_never_shown(admin_client):
    from fleet.models import EnrollmentToken

    record, secret = EnrollmentToken.issue(label="fleet")
    page = admin_client.get(f"/admin/fleet/enrollmenttoken/{record.pk}/change/").content.decode()
    assert secret not in page and record.token_hash not in page
    assert admin_client.get("/admin/fleet/enrollmenttoken/add/").status_code == 403
    response = admin_client.post(
        "/admin/fleet/enrollmenttoken/", {"action": "revoke", "_selected_action": [record.pk]}
    )
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.revoked
