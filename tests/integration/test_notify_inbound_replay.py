"""An inbound webhook replayed 10 times, all at once, against a real server on
PostgreSQL, makes its jobs once: the unique delivery id serializes them."""
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from fleet.models import Job
from notify.models import InboundDelivery
from notify.signing import github_signature
from tests.conftest import need_service
from tests.notify.conftest import fleet, project, push_event, secret  # noqa: F401  (fixtures)

pytestmark = pytest.mark.services


def test_a_push_delivered_ten_times_at_once_makes_its_jobs_once(transactional_db, live_server, settings, project,
                                                                 secret, fleet):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        need_service("DATABASE_URL does not point at PostgreSQL")
    body = json.dumps(push_event()).encode()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": "replayed",
               "X-Hub-Signature-256": github_signature(secret, body)}

    def post(_):
        return requests.post(f"{live_server.url}/hooks/github/{project.pk}/", data=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(post, range(10)))
    assert sorted(a.status_code for a in answers) == [200] * 9 + [202]
    assert sum(a.json()["jobs_created"] for a in answers) == 2
    assert Job.objects.count() == 2 and InboundDelivery.objects.count() == 1
