"""ROOFWATCH_ANONYMOUS_READ (default on): read-only access without signing in."""
import pytest
from django.contrib.auth.models import User

from .seed import MACHINES

PAGES = ["/", "/alerts/", "/runs/", "/machines/"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_can_read_by_default(client, db, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_with_anonymous_read_off_pages_send_visitors_to_sign_in(client, db, settings, path):
    settings.ROOFWATCH_ANONYMOUS_READ = False
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("data", ["series", "compare", "sparklines"])
def test_with_anonymous_read_off_the_page_data_needs_a_session_too(client, seeded, settings, data):
    url = {
        "series": f"/dash-api/series/?benchmark={seeded.benchmark_id}",
        "compare": "/dash-api/compare/?before={}&after={}".format(*(r.pk for r in seeded.runs[MACHINES[0]][:2])),
        "sparklines": "/dash-api/sparklines/",
    }[data]
    assert client.get(url).status_code == 200  # anonymous reading is on by default
    settings.ROOFWATCH_ANONYMOUS_READ = False
    assert client.get(url).status_code == 401  # no credentials: sign in or send an agent token
    client.force_login(User.objects.create_user("reader"))
    assert client.get(url).status_code == 200


def test_with_anonymous_read_off_signed_in_users_read(client, db, settings):
    settings.ROOFWATCH_ANONYMOUS_READ = False
    client.force_login(User.objects.create_user("reader"))
    assert client.get("/").status_code == 200
