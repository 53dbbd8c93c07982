"""POST /hooks/github/<project id>/ verifies X-Hub-Signature-256 with the
project's secret: a bad or missing signature is a 401 and nothing is recorded."""
from fleet.models import Job
from notify.models import InboundDelivery
from notify.signing import github_signature
from tests.notify.conftest import REPOSITORY, SHA, hook_url, push_event


def test_it_makes_one_commit_job_per_machine_of_the_matching_schedule(post_github, fleet):
    response = post_github(push_event())
    assert response.status_code == 202, response.content
    assert response.json() == {"delivery": "d-1", "duplicate": False, "commit": SHA, "jobs_created": 2}
    jobs = Job.objects.order_by("machine__name")
    assert [(j.machine.name, j.kind, j.commit, j.model, j.params) for j in jobs] == [
        ("w1", "commit", SHA, "mlp", {"batch": 4}), ("w2", "commit", SHA, "mlp", {"batch": 4})]
    assert InboundDelivery.objects.get().branch == "main"


def test_it_rejects_a_signature_made_with_another_secret(post_github, fleet):
    response = post_github(push_event(), key="rwh_not-the-secret")
    assert response.status_code == 401
    assert "X-Hub-Signature-256" in response.json()["detail"]
    assert not Job.objects.exists() and not InboundDelivery.objects.exists()


def test_it_rejects_a_request_without_a_signature(post_github, fleet):
    assert post_github(push_event(), signature="").status_code == 401
    assert not Job.objects.exists() and not InboundDelivery.objects.exists()


def test_it_rejects_a_project_without_a_secret(client, project, fleet):
    response = client.post(hook_url("github", project.pk), push_event(), content_type="application/json",
                           HTTP_X_GITHUB_EVENT="push", HTTP_X_GITHUB_DELIVERY="d", HTTP_X_HUB_SIGNATURE_256="sha256=0")
    assert response.status_code == 401
    assert "manage.py webhook_secret" in response.json()["detail"]


def test_it_names_a_repository_that_is_not_the_projects(post_github, fleet):
    response = post_github(push_event(repository="https://github.com/nobody/else"))
    assert response.status_code == 400
    assert "nobody/else" in response.json()["detail"] and REPOSITORY in response.json()["detail"]
    assert not InboundDelivery.objects.exists()


def test_it_answers_a_signed_body_that_is_not_json_with_400(post_github):
    response = post_github(body=b"{nope")
    assert response.status_code == 400
    assert "not JSON" in response.json()["detail"]


def test_it_answers_a_signed_json_list_with_400(post_github):
    response = post_github(body=b"[1, 2]")
    assert response.status_code == 400
    assert "Expected a JSON object, got list" in response.json()["detail"]


def test_it_refuses_get(client, project):
    assert client.get(hook_url("github", project.pk)).status_code == 405


def test_the_url_without_a_project_is_gone(client, secret):
    assert client.post("/hooks/github/", push_event(), content_type="application/json").status_code == 404


def test_it_asks_for_json_when_github_sends_a_signed_form(client, project, secret):
    body = "payload=%7B%7D"
    response = client.post(hook_url("github", project.pk), body, content_type="application/x-www-form-urlencoded",
                           HTTP_X_HUB_SIGNATURE_256=github_signature(secret, body.encode()))
    assert response.status_code == 415
    assert "content type to application/json" in response.json()["detail"]
