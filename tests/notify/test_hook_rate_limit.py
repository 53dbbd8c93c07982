"""Too many failed signatures from one client address get 429 until the
window passes; a request with a right signature is never refused by the
limit, and the client address is taken through the trusted proxies only."""
from fleet.models import Job
from tests.notify.conftest import push_event


def test_it_answers_429_after_too_many_bad_signatures(post_github, fleet, settings):
    settings.ROOFWATCH_AUTH_FAILURES = 3
    assert [post_github(push_event(), key="wrong").status_code for _ in range(3)] == [401, 401, 401]
    limited = post_github(push_event(), key="wrong")
    assert limited.status_code == 429
    assert "Too many" in limited.json()["detail"]


def test_a_good_signature_gets_through_from_a_limited_address(post_github, fleet, settings):
    settings.ROOFWATCH_AUTH_FAILURES = 3
    for _ in range(4):
        post_github(push_event(), key="wrong")
    assert post_github(push_event(), delivery="good").status_code == 202
    assert Job.objects.count() == 2


def test_an_unknown_project_counts_as_a_failure(post_github, settings):
    settings.ROOFWATCH_AUTH_FAILURES = 2
    assert [post_github(push_event(), project_id=999).status_code for _ in range(3)] == [401, 401, 429]


def test_a_proxys_clients_are_limited_each_on_their_own(post_github, fleet, settings):
    settings.ROOFWATCH_AUTH_FAILURES = 2
    settings.ROOFWATCH_TRUSTED_PROXIES = ["10.0.0.0/8"]
    via_proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(2):
        post_github(push_event(), key="wrong", HTTP_X_FORWARDED_FOR="203.0.113.7", **via_proxy)
    assert post_github(push_event(), key="wrong", HTTP_X_FORWARDED_FOR="203.0.113.7", **via_proxy).status_code == 429
    assert post_github(push_event(), key="wrong", HTTP_X_FORWARDED_FOR="203.0.113.8", **via_proxy).status_code == 401


def test_without_trusted_proxies_x_forwarded_for_is_ignored(post_github, fleet, settings):
    settings.ROOFWATCH_AUTH_FAILURES = 2
    for forged in ("198.51.100.1", "198.51.100.2"):
        post_github(push_event(), key="wrong", HTTP_X_FORWARDED_FOR=forged)
    assert post_github(push_event(), key="wrong", HTTP_X_FORWARDED_FOR="198.51.100.3").status_code == 429
