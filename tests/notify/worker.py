"""Real Celery workers for the notify reliability tests, which need to kill
one (SIGKILL) and start another on the same queue. Needs PostgreSQL (the
worker shares the test database) and a real broker."""
from __future__ import annotations

import time

import pytest

from tests.celery_workers import CeleryWorkers, need_worker_services

WORKER_ENV = {"ROOFWATCH_WEBHOOK_BACKOFF_SECONDS": "1", "ROOFWATCH_WEBHOOK_TIMEOUT_SECONDS": "3"}


@pytest.fixture
def notify_workers(transactional_db, settings):
    """A factory of real workers on one queue of this test (`start()`, `kill(proc)`);
    eager mode off meanwhile."""
    from roofwatch.celery import app

    need_worker_services(settings)
    workers = CeleryWorkers(app, settings, settings_module="tests.notify.worker_settings", env=WORKER_ENV)
    with workers.serving():
        yield workers


def wait_for(condition, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
