"""Slack gets an incoming-webhook message; GitHub gets a failure commit status
on the first bad commit, linking to the alert page, at a configurable API base."""
import pytest

from notify.models import Delivery
from notify.outbound import file_deliveries, send
from regressions.models import Alert
from results.models import Project
from tests.notify.alerts import endpoint, make_regression

pytestmark = pytest.mark.django_db


def alert_ids():
    return list(Alert.objects.values_list("pk", flat=True))


def test_slack_gets_a_text_message_linking_to_the_alert(receiver, settings):
    settings.SITE_URL = "https://rw.example.com"
    summary = make_regression()
    endpoint("slack", receiver.url + "/services/T/B/X")
    (pk,) = file_deliveries(alert_ids())
    assert send(pk).value == "delivered"
    (seen,) = receiver.requests
    assert seen.path == "/services/T/B/X"
    text = seen.json()["text"]
    assert f"<https://rw.example.com/alerts/{summary.pk}/|" in text
    assert "commit c12" in text and "fc1" in text


def test_github_gets_a_failure_status_on_the_first_bad_commit(receiver, settings):
    settings.SITE_URL = "https://rw.example.com"
    summary = make_regression()
    endpoint("github_status", receiver.url + "/api/v3", token="ghp_test")
    (pk,) = file_deliveries(alert_ids())
    assert send(pk).value == "delivered"
    (seen,) = receiver.requests
    assert seen.path == "/api/v3/repos/example/roofwatch-models/statuses/c12"
    assert seen.headers["Authorization"] == "Bearer ghp_test"
    body = seen.json()
    assert body["state"] == "failure" and body["context"] == "roofwatch"
    assert body["target_url"] == f"https://rw.example.com/alerts/{summary.pk}/"
    assert len(body["description"]) <= 140


def test_github_status_is_not_filed_for_a_repository_not_on_github(receiver):
    make_regression()
    Project.objects.update(repository_url="https://gitlab.example.com/a/b")
    endpoint("github_status", receiver.url)
    assert file_deliveries(alert_ids()) == []
    assert not Delivery.objects.exists()
