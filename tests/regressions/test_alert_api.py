"""The alerts API: anyone reads; a signed-in user triages, and the history
records who did what."""
import pytest
from django.contrib.auth.models import User

from fleet.models import Machine
from regressions.models import ACKNOWLEDGED, FIXED, REASSIGNED, Alert, AlertSummary, TriageEvent
from results.models import Benchmark, Project, Run
from tests.regressions.history import history, ingest_all

pytestmark = pytest.mark.django_db
SUMMARIES = "/api/v1/alerts/summaries/"
ALERTS = "/api/v1/alerts/"


@pytest.fixture
def runs():
    return ingest_all(history(3, layers=2), Machine.objects.create(name="m1"))


def make_summary(runs, key: str, layer: str = "fc0") -> AlertSummary:
    summary = AlertSummary.objects.create(key=key, project=runs[0].benchmark.project, classification="compute",
                                          attribution={"commits": {"last_good": "c0", "first_bad": "c1"}})
    Alert.objects.create(
        summary=summary, original_summary=summary, machine=runs[0].machine, benchmark=runs[0].benchmark, layer=layer,
        run_before=runs[0], run_after=runs[1], before=1.0, after=1.3, rel_change=0.3, confidence=0.99,
        direction="regression", classification="compute",
    )
    return summary


@pytest.fixture
def user_client(client):
    client.force_login(User.objects.create_user("ana", password="pw"))
    return client


def test_anyone_can_list_and_read_summaries(client, runs):
    summary = make_summary(runs, "a")
    listing = client.get(SUMMARIES).json()
    assert [row["id"] for row in listing["results"]] == [summary.pk]
    assert listing["results"][0]["alert_count"] == 1
    detail = client.get(f"{SUMMARIES}{summary.pk}/").json()
    assert detail["alerts"][0]["layer"] == "fc0" and detail["alerts"][0]["machine"] == "m1"
    assert detail["attribution"]["commits"]["first_bad"] == "c1"


def test_it_filters_summaries_by_status(client, runs):
    make_summary(runs, "a")
    assert client.get(SUMMARIES, {"status": "fixed"}).json()["count"] == 0
    assert client.get(SUMMARIES, {"status": "untriaged"}).json()["count"] == 1


def test_it_refuses_triage_without_a_user(client, runs):
    summary = make_summary(runs, "a")
    response = client.patch(f"{SUMMARIES}{summary.pk}/", {"status": FIXED}, content_type="application/json")
    assert response.status_code in (401, 403)
    summary.refresh_from_db()
    assert summary.status == "untriaged" and TriageEvent.objects.count() == 0


def test_a_user_sets_a_summary_status_and_it_is_recorded(user_client, runs):
    summary = make_summary(runs, "a")
    response = user_client.patch(f"{SUMMARIES}{summary.pk}/", {"status": ACKNOWLEDGED, "note": "looking"},
                                 content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == ACKNOWLEDGED and body["triaged_by"] == "ana" and body["triaged_at"]
    assert body["events"] == [{**body["events"][0], "user": "ana", "action": "status", "old": "untriaged",
                               "new": ACKNOWLEDGED, "note": "looking"}]


def test_it_names_a_bad_status(user_client, runs):
    summary = make_summary(runs, "a")
    response = user_client.patch(f"{SUMMARIES}{summary.pk}/", {"status": "done"}, content_type="application/json")
    assert response.status_code == 400
    assert "status" in response.json()["errors"] or "status" in str(response.json())
    assert TriageEvent.objects.count() == 0


def test_a_user_writes_notes(user_client, runs):
    summary = make_summary(runs, "a")
    response = user_client.patch(f"{SUMMARIES}{summary.pk}/", {"notes": "bisected to #42"},
                                 content_type="application/json")
    assert response.status_code == 200 and response.json()["notes"] == "bisected to #42"


def test_a_user_reassigns_an_alert_and_its_original_summary_is_kept(user_client, runs):
    first, second = make_summary(runs, "a"), make_summary(runs, "b", layer="fc1")
    alert = first.alerts.get()
    response = user_client.patch(f"{ALERTS}{alert.pk}/", {"summary": second.pk}, content_type="application/json")
    assert response.status_code == 200, response.content
    alert.refresh_from_db()
    assert (alert.summary, alert.original_summary, alert.status) == (second, first, REASSIGNED)
    assert TriageEvent.objects.get(alert=alert).action == "reassign"


def test_an_alert_cannot_be_reassigned_to_another_projects_summary(user_client, runs):
    alert = make_summary(runs, "a").alerts.get()
    other = AlertSummary.objects.create(key="x", project=Project.objects.create(name="q", repository_url="u"))
    response = user_client.patch(f"{ALERTS}{alert.pk}/", {"summary": other.pk}, content_type="application/json")
    assert response.status_code == 400 and "another project" in str(response.json())
    alert.refresh_from_db()
    assert alert.status == "untriaged"


def test_it_filters_alerts_by_summary_and_layer(client, runs):
    first, second = make_summary(runs, "a"), make_summary(runs, "b", layer="fc1")
    assert [row["layer"] for row in client.get(ALERTS, {"summary": second.pk}).json()["results"]] == ["fc1"]
    assert client.get(ALERTS, {"layer": "fc0"}).json()["count"] == 1
    assert client.get(ALERTS, {"summary": "x"}).status_code == 400
