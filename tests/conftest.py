"""Shared fixtures. Tests that need PostgreSQL or Redis call `need_service`:
they skip when those are absent, except under ROOFWATCH_REQUIRE_SERVICES=1 (CI),
where they fail."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("ROOFWATCH_REQUIRE_SERVICES") == "1"


def need_service(what: str) -> None:
    """Skip the calling test for lack of `what`, or fail it when services are required."""
    if REQUIRE_SERVICES:
        pytest.fail(f"ROOFWATCH_REQUIRE_SERVICES=1 but {what}")
    pytest.skip(what)


@pytest.fixture(autouse=True)
def machines_post_to_every_project(request):
    """Machines made in tests may post runs to every project (Machine.all_projects),
    since most tests upload reports of made-up repositories. Tests of the project
    scope itself (results.project_scope) ask for `scoped_machines` and get the
    production default: no project until one is granted."""
    if "scoped_machines" in request.fixturenames:
        yield
        return
    from django.db.models.signals import pre_save

    from fleet.models import Machine

    def trust(sender, instance, **kwargs):
        if instance._state.adding:
            instance.all_projects = True

    pre_save.connect(trust, sender=Machine, dispatch_uid="tests.machines_post_to_every_project")
    yield
    pre_save.disconnect(sender=Machine, dispatch_uid="tests.machines_post_to_every_project")


@pytest.fixture
def scoped_machines() -> None:
    """Machines of this test post only to the projects they are granted (see above)."""


@pytest.fixture(scope="session")
def engine_cache_dir(tmp_path_factory) -> Path:
    """One peaks cache for the whole session, so the engine measures the machine once."""
    path = tmp_path_factory.mktemp("engine-cache")
    os.environ["ROOFWATCH_CACHE_DIR"] = str(path)
    return path


@pytest.fixture
def celery_worker_process(transactional_db, settings):
    """A real `celery worker` subprocess on the configured broker, using the test
    database (tests.celery_workers). Yields the Celery app with eager mode off,
    so `.delay()` goes over the broker to the worker."""
    from roofwatch.celery import app
    from tests.celery_workers import CeleryWorkers, need_worker_services

    need_worker_services(settings)
    workers = CeleryWorkers(app, settings, include=["tests.celery_probe"])
    with workers.serving():
        workers.start()
        yield app
