"""POST /hooks/github/ verifies X-Hub-Signature-256 with the project's secret:
a bad or missing signature is a 401 and nothing is recorded."""
from fleet.models import Job
from notify.models import InboundDelivery
from tests.notify.conftest import SHA, push_event


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
    response = client.post("/hooks/github/", push_event(), content_type="application/json",
                           HTTP_X_GITHUB_EVENT="push", HTTP_X_GITHUB_DELIVERY="d", HTTP_X_HUB_SIGNATURE_256="sha256=0")
    assert response.status_code == 401
    assert "manage.py webhook_secret" in response.json()["detail"]


def test_it_names_an_unknown_repository(post_github, fleet):
    response = post_github(push_event(repository="https://github.com/nobody/else"))
    assert response.status_code == 404
    assert "nobody/else" in response.json()["detail"]
    assert not InboundDelivery.objects.exists()


def test_it_answers_a_body_that_is_not_json_with_400(client, secret):
    response = client.post("/hooks/github/", b"{nope", content_type="application/json")
    assert response.status_code == 400
    assert "not JSON" in response.json()["detail"]


def test_it_refuses_get(client, db):
    assert client.get("/hooks/github/").status_code == 405


def test_it_asks_for_json_when_github_sends_a_form(client, secret):
    response = client.post("/hooks/github/", "payload=%7B%7D", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "content type to application/json" in response.json()["detail"]
