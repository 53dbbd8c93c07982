"""ROOFWATCH_ANONYMOUS_READ (default on): read-only access without signing in."""
import pytest
from django.contrib.auth.models import User

PAGES = ["/", "/alerts/", "/runs/", "/machines/"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_can_read_by_default(client, db, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_with_anonymous_read_off_pages_send_visitors_to_sign_in(client, db, settings, path):
    settings.ROOFWATCH_ANONYMOUS_READ = False
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_with_anonymous_read_off_the_page_data_needs_a_session_too(client, seeded, settings):
    settings.ROOFWATCH_ANONYMOUS_READ = False
    url = f"/dash-api/series/?benchmark={seeded.benchmark_id}"
    assert client.get(url).status_code == 403
    client.force_login(User.objects.create_user("reader"))
    assert client.get(url).status_code == 200


def test_with_anonymous_read_off_signed_in_users_read(client, db, settings):
    settings.ROOFWATCH_ANONYMOUS_READ = False
    client.force_login(User.objects.create_user("reader"))
    assert client.get("/").status_code == 200
