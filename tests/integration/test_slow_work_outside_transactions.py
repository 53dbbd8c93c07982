"""With eager tasks (the embedded default), an upload's follow-up work runs in
the request: detection, then the webhook sends with their retries. None of it
may run inside the ingest's write transaction, where on SQLite it would hold
the one write lock against every other agent for as long as a receiver takes
to answer."""
import json

import pytest
import requests
from django.db import connection

from fleet.models import Machine
from notify.models import Delivery, WebhookEndpoint
from regressions import tasks as regression_tasks
from tests.notify.receiver import Receiver
from tests.regressions.history import history
from tests.report_factory import DEFAULT_REPOSITORY


@pytest.mark.django_db(transaction=True)
def test_detection_and_webhook_sends_run_after_the_upload_committed(client, monkeypatch):
    in_transaction = {"detect": [], "send": []}
    detect, post = regression_tasks.detect_benchmark, requests.post

    def watched_detect(*args):
        in_transaction["detect"].append(connection.in_atomic_block)
        return detect(*args)

    def watched_post(*args, **kwargs):
        in_transaction["send"].append(connection.in_atomic_block)
        return post(*args, **kwargs)

    monkeypatch.setattr(regression_tasks, "detect_benchmark", watched_detect)
    monkeypatch.setattr("notify.outbound.requests.post", watched_post)
    machine = Machine.objects.create(name="m1")
    token = machine.rotate_token()
    receiver = Receiver(fail_first=2)  # two retries, run at once by the eager task
    try:
        reports = history(16, slow_from=10, slow={"fc1": 3.0}, fingerprint="fp-eager")
        client.post("/api/v1/runs/", json.dumps(reports[0]), content_type="application/json",
                    HTTP_AUTHORIZATION=f"Token {token}")
        endpoint_project = machine.runs.get().benchmark.project
        assert endpoint_project.repository_url == DEFAULT_REPOSITORY
        WebhookEndpoint.objects.create(project=endpoint_project, name="ci", kind="generic", url=receiver.url,
                                       secret="s")
        for report in reports[1:]:
            resp = client.post("/api/v1/runs/", json.dumps(report), content_type="application/json",
                               HTTP_AUTHORIZATION=f"Token {token}")
            assert resp.status_code == 201, resp.content
    finally:
        receiver.close()

    assert Delivery.objects.filter(delivered_at__isnull=False).exists()
    assert len(in_transaction["detect"]) == 16 and not any(in_transaction["detect"])
    assert len(in_transaction["send"]) >= 3 and not any(in_transaction["send"])
