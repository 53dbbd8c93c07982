"""Too many failed signatures from one address get 429, even with a right
signature after, until the window passes."""
from tests.notify.conftest import push_event


def test_it_answers_429_after_too_many_bad_signatures(post_github, fleet, settings):
    settings.ROOFWATCH_AUTH_FAILURES = 3
    assert [post_github(push_event(), key="wrong").status_code for _ in range(3)] == [401, 401, 401]
    limited = post_github(push_event(), delivery="good")
    assert limited.status_code == 429
    assert "Too many" in limited.json()["detail"]


def test_it_lets_good_requests_through_under_the_limit(post_github, fleet, settings):
    settings.ROOFWATCH_AUTH_FAILURES = 3
    post_github(push_event(), key="wrong")
    assert post_github(push_event()).status_code == 202
