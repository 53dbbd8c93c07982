"""Nothing lost, nothing sent twice: a worker SIGKILLed in the middle of a
send, then the broker (a private redis-server, no persistence) stopped, so
every queued message is gone and an alert filed meanwhile cannot be queued.
Once Redis is back, a new worker and the beat sweep deliver every pending
delivery, and each endpoint takes in each summary exactly once."""
import subprocess
import sys
from collections import Counter

import pytest
from django.db.models import Max
from django.utils import timezone

from fleet.models import Machine
from notify.models import Delivery, WebhookEndpoint
from regressions.detection import detect_benchmark
from regressions.models import AlertSummary
from results.models import Project
from tests.celery_workers import CeleryWorkers
from tests.conftest import REPO, need_service
from tests.notify.private_redis import private_broker, use_broker
from tests.notify.receiver import Receiver
from tests.notify.worker import WORKER_ENV, wait_for
from tests.regressions.history import history, ingest_all

pytestmark = pytest.mark.services


def regression(machine: str, commit_prefix: str) -> AlertSummary:
    """A 3x slowdown of layer fc1 on `machine`; a new commit prefix makes a new cause, so a new summary."""
    reports = history(18, slow_from=12, slow={"fc1": 3.0}, layers=6, commit_prefix=commit_prefix,
                      fingerprint=f"fp-{machine}")
    runs = ingest_all(reports, Machine.objects.create(name=machine))
    detect_benchmark(runs[0].machine_id, runs[0].benchmark_id)
    return AlertSummary.objects.get(alerts__machine__name=machine, alerts__layer="fc1")


def taken_in(receiver: Receiver) -> Counter:
    """How many times `receiver` took in each summary (requests with a delivery id it had not seen)."""
    first = {}
    for seen in receiver.requests:
        first.setdefault(seen.headers["X-Roofwatch-Delivery"], seen.json()["summary"]["id"])
    return Counter(first[delivery] for delivery in receiver.accepted_ids)


@pytest.mark.timeout(300)
def test_a_killed_worker_and_a_broker_outage_lose_no_alert_and_send_none_twice(transactional_db, settings,
                                                                               tmp_path):
    from roofwatch.celery import app

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        need_service("DATABASE_URL does not point at PostgreSQL: a worker process cannot share an SQLite test database")
    held, other = Receiver(hold_first=True), Receiver()
    beat = None
    with private_broker(app, tmp_path) as redis:
        env = {**WORKER_ENV, "CELERY_BROKER_URL": redis.url, "CELERY_RESULT_BACKEND": "",
               "ROOFWATCH_OUTBOX_SWEEP_SECONDS": "1"}
        workers = CeleryWorkers(app, settings, settings_module="tests.notify.outage_settings", env=env)
        try:
            with workers.serving():
                project = Project.objects.create(name="example/roofwatch-models",
                                                 repository_url="https://github.com/example/roofwatch-models")
                for name, receiver in (("a-held", held), ("b", other)):
                    WebhookEndpoint.objects.create(project=project, name=name, kind="generic", url=receiver.url)
                first = workers.start()
                beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "roofwatch", "beat", "--loglevel",
                                         "INFO", "-s", str(tmp_path / "beat-schedule")], cwd=REPO, env=workers.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                before = regression("m1", "c")
                assert held.arrived.wait(60), "the first worker never sent"
                workers.kill(first)  # mid-send: the receiver holds the request open
                held.release.set()

                redis.stop()  # the outage: every queued message is lost with it
                during = regression("m2", "d")  # its alerts_filed cannot queue anything now
                assert Delivery.objects.filter(summary=during, attempts=0).count() == 2  # filed with the alerts
                lapse = Delivery.objects.aggregate(last=Max("sending_until"))["last"]
                wait_for(lambda: timezone.now() > lapse, 60, "the killed attempt to lapse")

                redis.start()
                use_broker(app, redis.url)  # this process's pooled connections died with the old server
                workers.start()
                wait_for(lambda: Delivery.objects.filter(delivered_at__isnull=False).count() == 4, 120,
                         "the sweep to deliver everything")
        finally:
            if beat is not None:
                beat.terminate()
                beat.wait(timeout=20)
            held.close()
            other.close()

    assert taken_in(held) == taken_in(other) == Counter({before.pk: 1, during.pk: 1})
    assert Delivery.objects.get(endpoint__name="a-held", summary=before).attempts >= 2  # the killed one counted
