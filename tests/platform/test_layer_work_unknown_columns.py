"""Migration 0015 on PostgreSQL's partitioned layer table: the work columns
became nullable and work_unknown exists on the parent and on every partition
(ALTER on a partitioned parent propagates), so a row of unknown work is stored
in a monthly partition as in the default one."""
from __future__ import annotations

import pytest
from django.db import connection

from results.models import LayerMeasurement
from tests.backend_reports import report
from tests.conftest import need_service

NULLABLE = ("flops", "bytes", "gflops", "gbs", "ai", "bound", "work_unknown")


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        need_service(f"partitions need PostgreSQL, the test database is {connection.vendor} (set DATABASE_URL)")


def _tables() -> list[str]:
    parent = LayerMeasurement._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = %s::regclass", [parent])
        return [parent, *(name for (name,) in cursor.fetchall())]


@pytest.mark.django_db
def test_every_partition_has_the_nullable_work_columns(postgres):
    tables = _tables()
    assert len(tables) > 2  # the parent, monthly partitions and the default
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name, column_name, is_nullable FROM information_schema.columns "
                       "WHERE table_name = ANY(%s) AND column_name = ANY(%s)", [tables, list(NULLABLE)])
        found = {(table, column): nullable for table, column, nullable in cursor.fetchall()}
    assert found == {(table, column): "YES" for table in tables for column in NULLABLE}


@pytest.mark.django_db
def test_a_layer_of_unknown_work_lands_in_its_monthly_partition(postgres, upload):
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).replace(microsecond=0)
    assert upload(report("din_small_ort", started_at=now.isoformat())).status_code == 201
    month = f"{LayerMeasurement._meta.db_table}_p{now:%Y_%m}"
    assert month in _tables()
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*), count(work_unknown), count(flops) FROM "{month}"')
        rows, unknown, known = cursor.fetchone()
    assert rows == LayerMeasurement.objects.count() and 0 < unknown < rows and known == rows - unknown
