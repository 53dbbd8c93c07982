"""Both hooks check the signature before they read the body: a bad signature
is 401 whatever the body says (not JSON, nested 100,000 deep, another
repository, any event) and whichever project the URL names (unknown, or
without a secret), with the same answer, and nothing is recorded. A signed
body that cannot be parsed is 400 naming the problem, never 500."""
import json

import pytest

from fleet.models import Job
from notify.models import InboundDelivery
from tests.notify.conftest import push_event

DEEP = b"[" * 100_000 + b"]" * 100_000
BODIES = {
    "not JSON": b"{nope",
    "nested 100,000 deep": DEEP,
    "another repository": json.dumps(push_event(repository="https://github.com/nobody/else")).encode(),
    "a good push": json.dumps(push_event()).encode(),
}
HOOKS = ["post_github", "post_ci"]


@pytest.fixture(params=HOOKS)
def post(request):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_a_bad_signature_is_401_whatever_the_body(post, fleet, body):
    response = post(body=body, key="rwh_not-the-secret")
    assert response.status_code == 401
    assert "does not match the project's webhook secret" in response.json()["detail"]
    assert not InboundDelivery.objects.exists() and not Job.objects.exists()


@pytest.mark.parametrize("event", ["push", "issues", ""])
def test_a_bad_signature_is_401_whatever_the_event(post_github, fleet, event):
    assert post_github(push_event(), event=event, key="rwh_not-the-secret").status_code == 401
    assert not InboundDelivery.objects.exists()


@pytest.mark.parametrize("hook", HOOKS)
def test_an_unknown_project_answers_like_a_bad_signature(request, project, fleet, hook):
    post = request.getfixturevalue(hook)
    unknown = post(push_event(), project_id=project.pk + 1000)
    huge = post(push_event(), project_id=10**30)
    bad = post(push_event(), key="rwh_not-the-secret")
    assert unknown.status_code == huge.status_code == bad.status_code == 401
    assert unknown.json() == huge.json() == bad.json()


@pytest.mark.parametrize("body", [DEEP, b'{"commit": ' * 100_000], ids=["list", "object"])
def test_a_signed_body_nested_too_deeply_is_400(post, fleet, body):
    response = post(body=body)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert not InboundDelivery.objects.exists()


def test_a_signed_body_that_is_not_json_is_400(post, fleet):
    response = post(body=b"\xff{nope")
    assert response.status_code == 400
    assert "not JSON" in response.json()["detail"]

