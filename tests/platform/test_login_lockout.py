"""Sign-in is throttled by django-axes: after ROOFWATCH_LOGIN_FAILURES wrong
passwords for a username from one address, the login page and the admin
login refuse it (429), the right password too, until the cool-off; another
username, or the same one from another address, still signs in."""
import pytest
from django.contrib.auth.models import User

LIMIT = 5  # settings.AXES_FAILURE_LIMIT, the default of ROOFWATCH_LOGIN_FAILURES

LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


@pytest.fixture
def users(db):
    User.objects.create_user("ann", password="pw-for-tests", is_staff=True, is_superuser=True)
    User.objects.create_user("bob", password="pw-for-tests", is_staff=True, is_superuser=True)


def sign_in(client, page: str, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(page, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_a_username_is_locked_out_after_too_many_wrong_passwords(client, users, settings, page):
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert [sign_in(client, page, "ann", "wrong").status_code for _ in range(LIMIT - 1)] == [200] * (LIMIT - 1)
    assert sign_in(client, page, "ann", "wrong").status_code == 429
    locked = sign_in(client, page, "ann", "pw-for-tests")
    assert locked.status_code == 429 and "_auth_user_id" not in client.session


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_others_still_sign_in(client, users, page):
    for _ in range(LIMIT):
        sign_in(client, page, "ann", "wrong")
    assert sign_in(client, page, "bob", "pw-for-tests").status_code == 302
    client.logout()
    assert sign_in(client, page, "ann", "pw-for-tests", address="198.51.100.4").status_code == 302


def test_a_success_before_the_limit_starts_the_count_again(client, users):
    for _ in range(LIMIT - 1):
        sign_in(client, LOGIN_PAGES[0], "ann", "wrong")
    assert sign_in(client, LOGIN_PAGES[0], "ann", "pw-for-tests").status_code == 302
    client.logout()
    assert [sign_in(client, LOGIN_PAGES[0], "ann", "wrong").status_code for _ in range(LIMIT - 1)] == [200] * 4
