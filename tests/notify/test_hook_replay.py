"""A delivery replayed any number of times makes its jobs once, even after the
first jobs finished (so fleet's own pending-job check would not stop it); a
delivery id seen before changes nothing, whatever the body, and one of another
project is refused without showing that project's record."""
import json
import time

from fleet.models import DONE, Job
from notify.models import InboundDelivery, WebhookSecret
from notify.signing import roofwatch_signature
from results.models import Project
from tests.notify.conftest import SHA, hook_url, push_event


def test_it_makes_jobs_once_for_a_github_delivery_sent_ten_times(post_github, fleet):
    answers = [post_github(push_event(), delivery="same-id") for _ in range(10)]
    assert [a.status_code for a in answers] == [202] + [200] * 9
    assert all(a.json()["duplicate"] for a in answers[1:])
    assert Job.objects.count() == 2
    Job.objects.update(status=DONE)
    assert post_github(push_event(), delivery="same-id").json()["duplicate"] is True
    assert Job.objects.count() == 2
    assert InboundDelivery.objects.count() == 1


def test_it_makes_new_jobs_for_a_new_delivery_of_the_same_commit_once_the_old_are_done(post_github, fleet):
    post_github(push_event(), delivery="a")
    Job.objects.update(status=DONE)
    assert post_github(push_event(), delivery="b").json()["jobs_created"] == 2


def test_it_makes_jobs_once_for_a_ci_request_replayed_ten_times(post_ci, fleet):
    payload = {"repository": "https://github.com/example/roofwatch-models", "commit": SHA}
    ts = int(time.time())
    answers = [post_ci(payload, timestamp=ts) for _ in range(10)]
    assert [a.status_code for a in answers] == [202] + [200] * 9
    assert Job.objects.count() == 2


def test_a_replayed_github_delivery_id_with_another_body_changes_nothing(post_github, fleet):
    post_github(push_event(), delivery="same-id")
    other = "f" * 40
    for event, payload in [("push", push_event(commit=other)), ("issues", {"action": "opened"})]:
        answer = post_github(payload, event=event, delivery="same-id")
        assert answer.status_code == 200
        assert answer.json() == {"delivery": "same-id", "duplicate": True, "commit": SHA, "jobs_created": 0}
    record = InboundDelivery.objects.get()
    assert (record.event, record.commit, record.jobs_created) == ("push", SHA, 2)
    assert set(Job.objects.values_list("commit", flat=True)) == {SHA}


def test_a_delivery_id_of_another_project_is_refused_without_showing_its_record(client, post_ci, fleet):
    other = Project.objects.create(name="other", repository_url="https://github.com/example/other")
    body = json.dumps({"commit": "f" * 40}).encode()
    ts = str(int(time.time()))
    post_ci({"commit": SHA}, delivery="build-1")
    answer = client.post(hook_url("ci", other.pk), body, content_type="application/json",
                         HTTP_X_ROOFWATCH_TIMESTAMP=ts, HTTP_X_ROOFWATCH_DELIVERY="build-1",
                         HTTP_X_ROOFWATCH_SIGNATURE=roofwatch_signature(WebhookSecret.rotate(other), ts, body))
    assert answer.status_code == 409
    assert "another project" in answer.json()["detail"] and SHA not in answer.content.decode()
    assert InboundDelivery.objects.get().project_id != other.pk
