"""On PostgreSQL the layer table is range-partitioned by month (results.partitions):
rows land in their month, time-range reads touch only their months' partitions,
beat makes months ahead, retention drops whole months, and a plain table is
converted online."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from django.db import connection

from fleet.models import Machine
from results import partitions
from results.ingest import ingest_report
from results.models import LayerMeasurement, Run
from tests.conftest import need_service
from tests.report_factory import make_report

NOW = datetime.now(timezone.utc)
THIS_MONTH = partitions.month_start(NOW)


@pytest.fixture
def postgres(db):
    if connection.vendor != "postgresql":
        need_service(f"partitions need PostgreSQL, the test database is {connection.vendor} (set DATABASE_URL)")


@pytest.fixture
def machine(postgres) -> Machine:
    return Machine.objects.create(name="m1")


def ingest(machine: Machine, started_at: datetime, layers: int = 3) -> Run:
    return ingest_report(make_report(layers=layers, started_at=started_at), machine)[0]


def partition_of_rows(run: Run) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT DISTINCT tableoid::regclass::text FROM "{partitions.TABLE}" WHERE run_id = %s', [run.pk])
        return {name for (name,) in cursor.fetchall()}


def key_columns(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) AND conname = %s",
            [partitions.TABLE, name],
        )
        return cursor.fetchone()[0]


def test_the_migrated_table_is_partitioned_by_month_with_months_ahead(postgres):
    assert partitions.is_partitioned()
    months = [p.start for p in partitions.monthly_partitions()]
    expected = [THIS_MONTH]
    for _ in range(partitions.DEFAULT_MONTHS_AHEAD):
        expected.append(partitions.next_month(expected[-1]))
    assert months == expected
    assert partitions.DEFAULT_PARTITION in partitions.children()
    # Unique keys carry the partition key; Django's names are kept.
    assert key_columns("results_layermeasurement_pkey") == "PRIMARY KEY (id, started_at)"
    assert key_columns("unique_layer_index_per_run") == "UNIQUE (run_id, index, started_at)"


def test_rows_land_in_their_month_and_old_ones_in_the_default_partition(machine):
    new = ingest(machine, NOW)
    old = ingest(machine, NOW - timedelta(days=400))

    assert partition_of_rows(new) == {partitions.partition_name(THIS_MONTH)}
    assert partition_of_rows(old) == {partitions.DEFAULT_PARTITION}
    assert LayerMeasurement.objects.filter(run__in=[new, old]).count() == 6


def test_a_time_range_read_scans_only_that_months_partitions(machine):
    run = ingest(machine, NOW)
    since = datetime(THIS_MONTH.year, THIS_MONTH.month, 1, tzinfo=timezone.utc)
    series = LayerMeasurement.objects.filter(machine=machine, benchmark=run.benchmark, name="layer0")
    in_range = series.filter(started_at__gte=since, started_at__lt=since + timedelta(days=20))

    def scanned(rows) -> set[str]:
        plan = rows.order_by("-started_at").explain()
        return {name for name in partitions.children() if name in plan}

    assert scanned(in_range) == {partitions.partition_name(THIS_MONTH)}
    # Without a range every partition is read: the pruning above is the range's doing.
    assert scanned(series) == set(partitions.children())


def test_ensure_partitions_makes_the_months_ahead_and_moves_waiting_rows(machine):
    far = partitions.month_start(NOW + timedelta(days=6 * 31))
    run = ingest(machine, datetime(far.year, far.month, 2, tzinfo=timezone.utc))
    assert partition_of_rows(run) == {partitions.DEFAULT_PARTITION}

    created = partitions.ensure_partitions(months_ahead=7)

    assert partitions.partition_name(far) in created
    assert partition_of_rows(run) == {partitions.partition_name(far)}
    assert LayerMeasurement.objects.filter(run=run).count() == 3
    assert partitions.ensure_partitions(months_ahead=7) == []  # idempotent


def test_dropping_months_before_a_cutoff_drops_only_whole_old_months(machine):
    old_month = THIS_MONTH.replace(year=THIS_MONTH.year - 1)
    with connection.cursor() as cursor:
        partitions._create_month(cursor, old_month)
    old = ingest(machine, datetime(old_month.year, old_month.month, 15, tzinfo=timezone.utc))
    new = ingest(machine, NOW)

    cutoff = datetime(old_month.year, old_month.month, 20, tzinfo=timezone.utc)
    assert partitions.drop_partitions_before(cutoff) == []  # the month is not over at the cutoff
    dropped = partitions.drop_partitions_before(NOW - timedelta(days=60))

    assert [(d.partition.start, d.rows) for d in dropped] == [(old_month, 3)]
    assert not LayerMeasurement.objects.filter(run=old).exists()
    assert LayerMeasurement.objects.filter(run=new).count() == 3
    assert Run.objects.filter(pk=old.pk).exists()  # runs are kept


def test_a_plain_table_is_converted_online_keeping_writes_and_deletes_made_meanwhile(machine, capsys):
    # Back to the plain table Django's migrations make (the test's transaction restores the partitioned one).
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TABLE "{partitions.TABLE}" CASCADE')
    with connection.schema_editor() as editor:
        editor.create_model(LayerMeasurement)
    assert not partitions.is_partitioned()
    runs = [ingest(machine, NOW - timedelta(days=days), layers=4) for days in (0, 45, 400)]
    deleted_run = runs[1]
    during = []

    def write_meanwhile(message: str) -> None:
        if message.startswith("copied") and not during:  # after the first batch
            during.append(ingest(machine, NOW - timedelta(minutes=5), layers=2))
            LayerMeasurement.objects.filter(run=deleted_run).delete()

    expected_before = set(LayerMeasurement.objects.values_list("id", flat=True))
    result = partitions.convert_to_partitioned(batch_size=5, months_ahead=2, progress=write_meanwhile)

    assert partitions.is_partitioned()
    assert result.batches == 3  # 12 rows in batches of 5 ids
    stored = set(LayerMeasurement.objects.values_list("id", flat=True))
    deleted = {i for i in expected_before if i not in stored}
    assert len(deleted) == 4 and not LayerMeasurement.objects.filter(run=deleted_run).exists()
    assert LayerMeasurement.objects.filter(run=during[0]).count() == 2  # written mid-copy, caught up at the swap
    assert len(stored) == 12 - 4 + 2
    assert key_columns("results_layermeasurement_pkey") == "PRIMARY KEY (id, started_at)"
    assert key_columns("unique_layer_index_per_run") == "UNIQUE (run_id, index, started_at)"
    assert partition_of_rows(runs[2]) == {partitions.partition_name(partitions.month_start(runs[2].started_at))}
    # New rows get ids past every copied one.
    later = ingest(machine, NOW)
    assert min(LayerMeasurement.objects.filter(run=later).values_list("id", flat=True)) > max(stored)
    assert result.write_hold_seconds < result.seconds
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s), to_regclass(%s), to_regclass(%s), to_regclass(%s)",
                       [partitions.NEW_TABLE, partitions.OLD_TABLE, *partitions.CHANGE_LOGS])
        assert cursor.fetchone() == (None,) * 4  # nothing left behind


def test_the_command_on_a_partitioned_table_makes_months_ahead(machine, capsys):
    call_command("partition_layers", "--months-ahead", "5")
    assert "Already partitioned; created 2 partitions" in capsys.readouterr().out


def test_everything_is_a_no_op_on_sqlite(db):
    if connection.vendor == "postgresql":
        pytest.skip("the SQLite behaviour")
    assert not partitions.is_partitioned()
    assert partitions.ensure_partitions() == []
    assert partitions.drop_partitions_before(NOW) == []
    assert partitions.convert_to_partitioned() is None


def test_the_beat_task_makes_the_configured_months_ahead(machine, settings):
    from results.tasks import ensure_layer_partitions

    settings.ROOFWATCH_PARTITION_MONTHS_AHEAD = 5
    created = ensure_layer_partitions.apply().get()

    # The migration made 3 months ahead; 4 and 5 are new.
    assert created == [partitions.partition_name(partitions._months_after(THIS_MONTH, k)) for k in (4, 5)]


def test_retention_rolls_up_then_drops_whole_old_months(machine):
    from results.models import DailyRollup
    from results.retention import prune_layers

    old_month = THIS_MONTH.replace(year=THIS_MONTH.year - 1)
    with connection.cursor() as cursor:
        partitions._create_month(cursor, old_month)
    old = ingest(machine, datetime(old_month.year, old_month.month, 15, 12, tzinfo=timezone.utc))
    new = ingest(machine, NOW)

    result = prune_layers(60)

    assert partitions.partition_name(old_month) not in partitions.children()
    assert result.layers == 3
    assert not LayerMeasurement.objects.filter(run=old).exists()
    assert LayerMeasurement.objects.filter(run=new).count() == 3
    # The month's day lives on as rollups, one per layer.
    assert DailyRollup.objects.filter(machine=machine, day=old.started_at.date()).count() == 3
