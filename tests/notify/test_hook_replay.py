"""A delivery replayed any number of times makes its jobs once, even after the
first jobs finished (so fleet's own pending-job check would not stop it)."""
import time

from fleet.models import DONE, Job
from notify.models import InboundDelivery
from tests.notify.conftest import SHA, push_event


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
