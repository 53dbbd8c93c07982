"""Real Celery workers for the notify reliability tests, which need to kill
one (SIGKILL) and start another on the same queue. Needs PostgreSQL (the
worker shares the test database) and a real broker."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, need_service

WORKER_ENV = {"ROOFWATCH_WEBHOOK_BACKOFF_SECONDS": "1", "ROOFWATCH_WEBHOOK_TIMEOUT_SECONDS": "3"}


class Workers:
    def __init__(self, app, settings) -> None:
        db = settings.DATABASES["default"]
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        self.app = app
        self.queue = f"notify-test-{os.getpid()}-{time.monotonic_ns()}"
        self.env = {**os.environ, **WORKER_ENV,
                    "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                    "DJANGO_SETTINGS_MODULE": "tests.notify.worker_settings", "ROOFWATCH_CELERY_EAGER": "0",
                    "NOTIFY_TEST_QUEUE": self.queue,
                    "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "platform")])}
        self.procs: list[subprocess.Popen] = []
        self.count = 0

    def start(self) -> subprocess.Popen:
        self.count += 1
        name = f"{self.queue}-{self.count}@{socket.gethostname()}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "roofwatch", "worker", "--pool", "solo", "-Q", self.queue,
             "-n", name, "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
            cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        while not self.app.control.ping(timeout=1, destination=[name]):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"celery worker did not come up (exit {proc.returncode}):\n{proc.communicate()[0][-3000:]}")
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture
def notify_workers(transactional_db, settings):
    """A factory of real workers on one queue of this test; eager mode off meanwhile."""
    from roofwatch.celery import app

    if settings.CELERY_BROKER_URL.startswith("memory://"):
        need_service("CELERY_BROKER_URL is not set: no broker for a real worker")
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        need_service("DATABASE_URL does not point at PostgreSQL: a worker process cannot share an SQLite test database")
    workers = Workers(app, settings)
    old = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager, app.conf.task_default_queue = False, workers.queue
    try:
        yield workers
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = old
        workers.stop_all()


def wait_for(condition, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
