"""Repeated bad agent tokens from one address are throttled (429) until the
window ends; a good token is never throttled, and other addresses are not."""
import pytest
from django.core.cache import cache

from results.models import Run
from tests.report_factory import make_report


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.ROOFWATCH_AUTH_FAILURES = 3
    cache.clear()
    yield
    cache.clear()


def test_it_throttles_an_address_after_repeated_bad_tokens(upload):
    for _ in range(3):
        assert upload(make_report(), token="rw_wrong").status_code == 401
    response = upload(make_report(), token="rw_wrong")
    assert response.status_code == 429
    assert "Too many failed token authentications" in response.json()["detail"]
    assert Run.objects.count() == 0


def test_a_good_token_is_never_throttled(upload):
    """Behind a NAT, another machine's bad tokens must not lock this one out."""
    for _ in range(5):
        upload(make_report(), token="rw_wrong")
    assert upload(make_report()).status_code == 201


def test_other_addresses_are_not_throttled(upload):
    for _ in range(3):
        upload(make_report(), token="rw_wrong")
    assert upload(make_report(), REMOTE_ADDR="10.0.0.9").status_code == 201


def test_good_tokens_do_not_count(upload):
    for _ in range(5):
        assert upload(make_report()).status_code == 201
