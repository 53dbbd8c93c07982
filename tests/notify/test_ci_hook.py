"""POST /hooks/ci/<project id>/: JSON signed with HMAC-SHA256 over "<timestamp>.<body>";
the timestamp must be within 5 minutes of the server's clock."""
import json
import time

from fleet.models import Job
from notify.models import InboundDelivery
from notify.signing import roofwatch_signature
from tests.notify.conftest import REPOSITORY, SHA

BODY = {"repository": REPOSITORY + ".git", "commit": SHA.upper(), "branch": "main",
        "build_url": "https://ci.example.com/builds/42"}


def test_it_makes_the_jobs_of_a_signed_request(post_ci, fleet):
    response = post_ci(BODY, delivery="build-42")
    assert response.status_code == 202, response.content
    assert response.json()["jobs_created"] == 2
    record = InboundDelivery.objects.get()
    assert (record.delivery_id, record.commit, record.build_url) == ("build-42", SHA.upper(), BODY["build_url"])
    assert set(Job.objects.values_list("commit", flat=True)) == {SHA}


def test_it_refuses_a_timestamp_older_than_five_minutes(post_ci, fleet):
    response = post_ci(BODY, timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    assert "away from the server's clock (at most 300 s)" in response.json()["detail"]
    assert not Job.objects.exists() and not InboundDelivery.objects.exists()


def test_it_refuses_a_body_changed_after_signing(post_ci, secret, fleet):
    ts = int(time.time())
    signature = roofwatch_signature(secret, str(ts), json.dumps(BODY).encode())
    response = post_ci({**BODY, "commit": "ffffffff"}, timestamp=ts, signature=signature)
    assert response.status_code == 401
    assert not Job.objects.exists()


def test_the_url_names_the_project_so_the_body_may_leave_the_repository_out(post_ci, fleet):
    response = post_ci({"commit": SHA})
    assert response.status_code == 202 and response.json()["jobs_created"] == 2


def test_it_names_a_repository_that_is_not_the_projects(post_ci, fleet):
    response = post_ci({**BODY, "repository": "https://github.com/nobody/else"})
    assert response.status_code == 400
    assert "nobody/else" in response.json()["detail"]
    assert not InboundDelivery.objects.exists()


def test_it_names_a_missing_commit(post_ci, fleet):
    response = post_ci({"repository": REPOSITORY})
    assert response.status_code == 400
    assert "commit" in response.json()["detail"]


def test_it_names_a_branch_that_is_not_a_string(post_ci, fleet):
    response = post_ci({**BODY, "branch": 3})
    assert response.status_code == 400
    assert "branch" in response.json()["detail"]
