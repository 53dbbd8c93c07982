"""With eager tasks (the embedded default), an upload's detection runs in the
request, after the ingest committed; the webhook sends and their retries run
after the request, once its response has gone out (notify.dispatch). None of
it may run inside the ingest's write transaction, where on SQLite it would
hold the one write lock against every other agent, and no send may run inside
a request, which would keep the agent waiting for as long as a receiver takes
to answer."""
import json
import threading

import pytest
from django.db import connection

from fleet.models import Machine
from notify import outbound
from notify.models import Delivery, WebhookEndpoint
from regressions import tasks as regression_tasks
from tests.notify.receiver import Receiver
from tests.regressions.history import history
from tests.report_factory import DEFAULT_REPOSITORY

SERVING = threading.local()  # .request: whether this thread is inside a view (between request and response)


def serving_middleware(get_response):
    """Outermost middleware of this test: marks the time a request is being served."""
    def middleware(request):
        SERVING.request = True
        try:
            return get_response(request)
        finally:
            SERVING.request = False
    return middleware


@pytest.mark.django_db(transaction=True)
def test_detection_runs_after_the_upload_committed_and_webhooks_after_the_request(client, monkeypatch, settings):
    settings.MIDDLEWARE = [f"{__name__}.serving_middleware", *settings.MIDDLEWARE]
    seen = {"detect": [], "send": []}
    detect, post = regression_tasks.detect_benchmark, outbound._post

    def watched_detect(*args):
        seen["detect"].append(connection.in_atomic_block)
        return detect(*args)

    def watched_post(*args):
        seen["send"].append((getattr(SERVING, "request", False), connection.in_atomic_block))
        return post(*args)

    monkeypatch.setattr(regression_tasks, "detect_benchmark", watched_detect)
    monkeypatch.setattr(outbound, "_post", watched_post)
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
    assert len(seen["detect"]) == 16 and not any(seen["detect"])
    assert len(seen["send"]) >= 3
    assert seen["send"] == [(False, False)] * len(seen["send"]), "a webhook went out inside a request or transaction"
