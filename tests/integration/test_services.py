"""Under ROOFWATCH_REQUIRE_SERVICES=1 (CI) these fail unless the suite really ran
on PostgreSQL and a real Celery worker answered over Redis."""
from django.db import connection

from fleet.models import Machine
from tests.conftest import REQUIRE_SERVICES, need_service


def test_the_database_is_postgresql_when_services_are_required(settings):
    if connection.vendor != "postgresql":
        need_service(f"the test database is {connection.vendor}, not PostgreSQL (set DATABASE_URL)")
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def test_a_real_worker_reads_the_test_database_over_the_broker(celery_worker_process, settings):
    assert settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")) or not REQUIRE_SERVICES
    Machine.objects.create(name="probe-a")
    Machine.objects.create(name="probe-b")
    from tests.celery_probe import count_rows

    result = count_rows.delay("fleet.Machine")
    assert result.get(timeout=60) == 2
