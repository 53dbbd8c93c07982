"""Admin for endpoints takes a secret or token but never shows it back, and
keeps the stored one when the field is left empty; the delivery log is read-only."""
import pytest

from notify.models import WebhookEndpoint


@pytest.fixture
def endpoint_row(project):
    return WebhookEndpoint.objects.create(project=project, name="gh", kind="github_status",
                                          url="https://api.github.com", token="ghp_topsecret", secret="sig-secret")


def test_the_change_page_does_not_show_the_token_or_secret(admin_client, endpoint_row):
    page = admin_client.get(f"/admin/notify/webhookendpoint/{endpoint_row.pk}/change/").content.decode()
    assert "ghp_topsecret" not in page and "sig-secret" not in page


def test_saving_with_empty_fields_keeps_the_stored_token(admin_client, endpoint_row, project):
    response = admin_client.post(f"/admin/notify/webhookendpoint/{endpoint_row.pk}/change/", {
        "project": project.pk, "name": "gh", "kind": "github_status", "url": "https://github.example.com/api/v3",
        "secret": "", "token": "", "enabled": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint_row.refresh_from_db()
    assert (endpoint_row.url, endpoint_row.token, endpoint_row.secret) == (
        "https://github.example.com/api/v3", "ghp_topsecret", "sig-secret")


def test_the_delivery_log_lists_without_error(admin_client, endpoint_row):
    assert admin_client.get("/admin/notify/delivery/").status_code == 200
    assert admin_client.get("/admin/notify/inbounddelivery/").status_code == 200
