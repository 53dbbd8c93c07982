"""Shared fixtures. Tests that need PostgreSQL or Redis call `need_service`:
they skip when those are absent, except under ROOFWATCH_REQUIRE_SERVICES=1 (CI),
where they fail."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("ROOFWATCH_REQUIRE_SERVICES") == "1"


def need_service(what: str) -> None:
    """Skip the calling test for lack of `what`, or fail it when services are required."""
    if REQUIRE_SERVICES:
        pytest.fail(f"ROOFWATCH_REQUIRE_SERVICES=1 but {what}")
    pytest.skip(what)


@pytest.fixture(scope="session")
def engine_cache_dir(tmp_path_factory) -> Path:
    """One peaks cache for the whole session, so the engine measures the machine once."""
    path = tmp_path_factory.mktemp("engine-cache")
    os.environ["ROOFWATCH_CACHE_DIR"] = str(path)
    return path


@pytest.fixture
def celery_worker_process(transactional_db, settings):
    """A real `celery worker` subprocess on the configured broker, using the test
    database. Yields the Celery app with eager mode off, so `.delay()` goes over
    the broker to the worker."""
    from roofwatch.celery import app

    if settings.CELERY_BROKER_URL.startswith("memory://"):
        need_service("CELERY_BROKER_URL is not set: no broker for a real worker")
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        need_service("DATABASE_URL does not point at PostgreSQL: a worker process cannot share an SQLite test database")
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"  # our own queue: no stray tasks from other runs
    worker_name = f"{queue}@{socket.gethostname()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "ROOFWATCH_CELERY_EAGER": "0",
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "platform")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "roofwatch", "worker", "--pool", "solo", "-Q", queue, "-n", worker_name,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-I", "tests.celery_probe",
         "--loglevel", "INFO"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    old = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=1, destination=[worker_name]):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out = proc.communicate()[0]
                pytest.fail(f"celery worker did not come up (exit {proc.returncode}):\n{out[-3000:]}")
        yield app
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = old
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
