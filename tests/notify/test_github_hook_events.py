"""Which GitHub events make jobs: a push (not a branch deletion), and a pull
request opened, synchronized or reopened (its head commit); ping answers pong."""
from fleet.models import Job
from notify.models import InboundDelivery
from tests.notify.conftest import REPOSITORY

HEAD = "fedcba9876543210fedcba9876543210fedcba98"


def pull_request(action: str) -> dict:
    return {"action": action, "repository": {"html_url": REPOSITORY},
            "pull_request": {"html_url": f"{REPOSITORY}/pull/7", "head": {"sha": HEAD, "ref": "feature"}}}


def test_it_benchmarks_the_head_of_a_synchronized_pull_request(post_github, fleet):
    response = post_github(pull_request("synchronize"), event="pull_request")
    assert response.status_code == 202
    assert set(Job.objects.values_list("commit", flat=True)) == {HEAD}
    assert InboundDelivery.objects.get().branch == "feature"


def test_it_records_but_ignores_a_closed_pull_request(post_github, fleet):
    assert post_github(pull_request("closed"), event="pull_request").json()["jobs_created"] == 0
    assert not Job.objects.exists()


def test_it_ignores_a_branch_deletion(post_github, fleet):
    payload = {"ref": "refs/heads/gone", "after": "0" * 40, "deleted": True, "repository": {"html_url": REPOSITORY}}
    assert post_github(payload).json()["jobs_created"] == 0
    assert not Job.objects.exists()


def test_it_answers_ping_with_pong(post_github, fleet):
    response = post_github({"zen": "hi", "repository": {"html_url": REPOSITORY}}, event="ping")
    assert response.status_code == 200 and response.json() == {"detail": "pong"}
    assert not InboundDelivery.objects.exists()


def test_it_names_a_bad_commit_id(post_github, fleet):
    response = post_github({"ref": "refs/heads/main", "after": "not-a-sha", "repository": {"html_url": REPOSITORY}})
    assert response.status_code == 400
    assert "commit" in response.json()["detail"]
    assert not InboundDelivery.objects.exists()
