"""A redis-server of one test only, on a free port and without persistence, so
a test can stop the broker (losing every message in it, as a crash would) and
start it again, without touching the machine's shared Redis."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import need_service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    def __init__(self, directory: Path) -> None:
        if shutil.which("redis-server") is None:
            need_service("redis-server is not installed: no private broker to stop and start")
        self.directory, self.port, self.proc = directory, free_port(), None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server on port {self.port} did not come up (exit {self.proc.poll()})")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def use_broker(app, url: str | None) -> None:
    """Point this process's Celery app at `url` (None: back to its settings),
    dropping its pooled connections (made for the old broker, or dead since the
    broker restarted). The read and write URLs, because an environment's
    CELERY_BROKER_URL would win over `broker_url`."""
    app.conf.broker_read_url = app.conf.broker_write_url = url
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def private_broker(app, directory: Path):
    """A started PrivateRedis that this process's Celery app publishes to meanwhile."""
    redis = PrivateRedis(directory)
    redis.start()
    use_broker(app, redis.url)
    try:
        yield redis
    finally:
        redis.stop()
        use_broker(app, None)
