"""Real `celery worker` subprocesses for tests: on the configured broker, on a
queue of the test's own (no stray tasks from other runs), using the test
database. Needs PostgreSQL (a worker process cannot share an SQLite test
database) and a real broker; `need_worker_services` skips or fails otherwise."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager

import pytest

from tests.conftest import REPO, need_service


def need_worker_services(settings) -> None:
    if settings.CELERY_BROKER_URL.startswith("memory://"):
        need_service("CELERY_BROKER_URL is not set: no broker for a real worker")
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        need_service("DATABASE_URL does not point at PostgreSQL: a worker process cannot share an SQLite test database")


class CeleryWorkers:
    """Starts workers on one queue; `start()` can be called again (after `kill`) to
    bring up another on the same queue. The queue is also the app's default
    queue while the workers are in use (see `serving`)."""

    def __init__(self, app, settings, *, settings_module: str = "tests.settings",
                 env: Mapping[str, str] | None = None, include: Sequence[str] = ()) -> None:
        db = settings.DATABASES["default"]
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        self.app = app
        self.queue = f"test-{os.getpid()}-{time.monotonic_ns()}"
        self.include = list(include)
        self.env = {**os.environ, **(env or {}),
                    "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                    "DJANGO_SETTINGS_MODULE": settings_module, "ROOFWATCH_CELERY_EAGER": "0",
                    "ROOFWATCH_TEST_QUEUE": self.queue,
                    "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "platform")])}
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        name = f"{self.queue}-{len(self.procs) + 1}@{socket.gethostname()}"
        include = ["-I", ",".join(self.include)] if self.include else []
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "roofwatch", "worker", "--pool", "solo", "-Q", self.queue,
             "-n", name, "--without-gossip", "--without-mingle", "--without-heartbeat", *include,
             "--loglevel", "INFO"],
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

    @contextmanager
    def serving(self):
        """Eager mode off and tasks routed to this queue meanwhile; then restored
        and every worker stopped."""
        conf = self.app.conf
        old = (conf.task_always_eager, conf.task_default_queue)
        conf.task_always_eager, conf.task_default_queue = False, self.queue
        try:
            yield self
        finally:
            conf.task_always_eager, conf.task_default_queue = old
            self.stop_all()
