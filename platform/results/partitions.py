"""Monthly range partitions of the layer table on PostgreSQL.

The layer table (results.LayerMeasurement) grows by tens of millions of rows a
day on a fleet. On PostgreSQL it is partitioned by month of `started_at`:
  - a series read over a time range touches only that range's partitions;
  - retention drops a whole month with one DROP instead of deleting rows;
  - each month's indexes stay small enough to cache.

Rows outside every monthly partition (a clock in 1970, a test's fixed date)
land in the DEFAULT partition; `ensure_partitions` moves any that belong to a
month it creates. The primary key and unique constraints carry started_at (a
partitioned table's unique keys must hold the partition key); ids still come
from one identity sequence, so `id` alone stays unique.

SQLite, the embedded default, keeps the plain table: every function here is
a no-op there and where the table is not (yet) partitioned.

`convert_to_partitioned` turns a plain table into a partitioned one online:
rows are copied in batches by id while the app goes on writing, deletes made
meanwhile are recorded by a trigger, and writes are held only for the last
catch-up and the swap of names (see its docstring).
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone

from django.db import connection, transaction

from results.models import LayerMeasurement

TABLE = LayerMeasurement._meta.db_table
DEFAULT_PARTITION = f"{TABLE}_pdefault"
NEW_TABLE = f"{TABLE}_partitioned"  # the table being filled during an online conversion
DELETED_IDS = f"{TABLE}_deleted_during_conversion"
DEFAULT_MONTHS_AHEAD = 3
DEFAULT_BATCH_SIZE = 200_000
MAX_MONTHS_BACK = 60  # the conversion's oldest monthly partition; rows older still go to the default one
# Both the online conversion and retention delete/drop layer rows; one at a time.
MAINTENANCE_LOCK = 0x726F6F66  # "roof", a pg_advisory_lock key


@dataclass(frozen=True)
class Partition:
    name: str
    start: date  # first day of its month (inclusive)
    end: date  # first day of the next month (exclusive)


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def is_partitioned() -> bool:
    """Whether the layer table is a partitioned table (PostgreSQL only)."""
    if not is_postgresql():
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


@contextmanager
def maintenance_lock() -> Iterator[None]:
    """Held by whatever deletes or moves many layer rows (retention, the online
    conversion), so two never run at once; waits for the other. A no-op off PostgreSQL."""
    if not is_postgresql():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MAINTENANCE_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MAINTENANCE_LOCK])


def month_start(day: date | datetime) -> date:
    return date(day.year, day.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(month: date, table: str = TABLE) -> str:
    return f"{table}_p{month:%Y_%m}"


def _bound(month: date) -> str:
    """A partition bound literal: midnight UTC on the first of `month`."""
    return f"'{month.isoformat()} 00:00:00+00'"


def monthly_partitions(table: str = TABLE) -> list[Partition]:
    """The table's monthly partitions, oldest first (the default one left out)."""
    pattern = re.compile(rf"^{re.escape(table)}_p(\d{{4}})_(\d{{2}})$")
    months = sorted(date(int(m[1]), int(m[2]), 1) for m in map(pattern.match, children(table)) if m)
    return [Partition(partition_name(m, table), m, next_month(m)) for m in months]


def children(table: str = TABLE) -> list[str]:
    """The names of the table's partitions, the default one included."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
            [table],
        )
        return [name for (name,) in cursor.fetchall()]


def _create_month(cursor, month: date, table: str = TABLE) -> bool:
    """Create the partition of `month` if missing; rows of that month waiting in
    the default partition are moved into it first. Returns whether it was created."""
    name = partition_name(month, table)
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    if cursor.fetchone()[0]:
        return False
    bounds = f"FOR VALUES FROM ({_bound(month)}) TO ({_bound(next_month(month))})"
    default = f"{table}_pdefault"
    cursor.execute(
        f'SELECT EXISTS (SELECT 1 FROM "{default}" WHERE started_at >= {_bound(month)} '
        f"AND started_at < {_bound(next_month(month))})"
    )
    if not cursor.fetchone()[0]:
        cursor.execute(f'CREATE TABLE "{name}" PARTITION OF "{table}" {bounds}')
        return True
    # Attaching a range the default partition holds rows of fails: move them first.
    cursor.execute(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    cursor.execute(
        f'WITH moved AS (DELETE FROM "{default}" WHERE started_at >= {_bound(month)} '
        f"AND started_at < {_bound(next_month(month))} RETURNING *) "
        f'INSERT INTO "{name}" SELECT * FROM moved'
    )
    cursor.execute(f'ALTER TABLE "{table}" ATTACH PARTITION "{name}" {bounds}')
    return True


def ensure_partitions(months_ahead: int = DEFAULT_MONTHS_AHEAD, now: datetime | None = None) -> list[str]:
    """Create the partitions of this month and the next `months_ahead` months
    where missing (beat runs this daily, so a month exists before its first row).
    Returns the names created; nothing on SQLite or a plain table."""
    if months_ahead < 0:
        raise ValueError(f"months_ahead must be >= 0, got {months_ahead}")
    if not is_partitioned():
        return []
    month = month_start(now or datetime.now(timezone.utc))
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        for _ in range(months_ahead + 1):
            if _create_month(cursor, month):
                created.append(partition_name(month))
            month = next_month(month)
    return created


@dataclass(frozen=True)
class Dropped:
    partition: Partition
    rows: int  # PostgreSQL's estimate (pg_class.reltuples; exact where never analyzed): counting would scan it


def drop_partitions_before(cutoff: datetime) -> list[Dropped]:
    """Drop the monthly partitions whose every row is older than `cutoff`
    (their month ends on or before it): retention's fast path, one DROP a
    month instead of deleting its rows. Returns what was dropped."""
    if not is_partitioned():
        return []
    old = [p for p in monthly_partitions() if datetime(p.end.year, p.end.month, 1, tzinfo=timezone.utc) <= cutoff]
    dropped = []
    with transaction.atomic(), connection.cursor() as cursor:
        for partition in old:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [partition.name])
            rows = cursor.fetchone()[0]
            if rows < 0:  # never vacuumed or analyzed
                cursor.execute(f'SELECT count(*) FROM "{partition.name}"')
                rows = cursor.fetchone()[0]
            # DETACH first: DROP of an attached partition locks the parent longer.
            cursor.execute(f'ALTER TABLE "{TABLE}" DETACH PARTITION "{partition.name}"')
            cursor.execute(f'DROP TABLE "{partition.name}"')
            dropped.append(Dropped(partition, rows))
    return dropped


# --- the online conversion ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    rows: int  # rows copied
    batches: int
    partitions: int  # monthly partitions created
    write_hold_seconds: float  # how long writes to the layer table were held (the swap)
    seconds: float


def _table_definition(cursor, table: str) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
    """What the plain table has beyond columns and checks: unique key column
    lists (primary key first), (name, index definition) for the other indexes,
    and (name, definition) of its foreign keys."""
    cursor.execute(
        "SELECT contype, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass(%s) AND contype IN ('p', 'u', 'f') ORDER BY contype <> 'p', conname",
        [table],
    )
    keys, foreign = [], []
    for kind, name, definition in cursor.fetchall():
        if kind == "f":
            foreign.append((name, definition))
        else:
            keys.append((kind, name, definition))
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = to_regclass(%s) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY i.relname",
        [table],
    )
    return keys, cursor.fetchall(), foreign


def _with_partition_key(definition: str) -> str:
    """`PRIMARY KEY (id)` -> `PRIMARY KEY (id, started_at)`: a partitioned
    table's unique keys must include its partition key."""
    columns = definition[definition.index("(") + 1 : definition.index(")")]
    if "started_at" in [c.strip() for c in columns.split(",")]:
        return definition
    return definition.replace(f"({columns})", f"({columns}, started_at)", 1)


def _create_partitioned_copy(cursor, months: list[date]) -> None:
    """The empty partitioned twin of the plain table (columns, defaults, checks
    and foreign keys; indexes come after the copy), with its partitions."""
    cursor.execute(
        f'CREATE TABLE "{NEW_TABLE}" (LIKE "{TABLE}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS) '
        "PARTITION BY RANGE (started_at)"
    )
    cursor.execute(f'CREATE TABLE "{NEW_TABLE}_pdefault" PARTITION OF "{NEW_TABLE}" DEFAULT')
    for month in months:
        _create_month(cursor, month, NEW_TABLE)
    _, _, foreign = _table_definition(cursor, TABLE)
    for name, definition in foreign:  # checked row by row during the copy (a partitioned table has no NOT VALID)
        cursor.execute(f'ALTER TABLE "{NEW_TABLE}" ADD CONSTRAINT "{name}" {definition}')
    # Deletes on the plain table while rows are copied (retention, a run deleted) are replayed at the swap.
    cursor.execute(f'CREATE TABLE "{DELETED_IDS}" (id bigint NOT NULL)')
    cursor.execute(
        f"CREATE FUNCTION {DELETED_IDS}() RETURNS trigger LANGUAGE plpgsql AS "
        f'$$ BEGIN INSERT INTO "{DELETED_IDS}" SELECT id FROM gone; RETURN NULL; END $$'
    )
    cursor.execute(
        f'CREATE TRIGGER "{DELETED_IDS}" AFTER DELETE ON "{TABLE}" REFERENCING OLD TABLE AS gone '
        f"FOR EACH STATEMENT EXECUTE FUNCTION {DELETED_IDS}()"
    )


def _copy_batch(cursor, after: int, upto: int) -> int:
    cursor.execute(
        f'INSERT INTO "{NEW_TABLE}" SELECT * FROM "{TABLE}" WHERE id > %s AND id <= %s', [after, upto]
    )
    return cursor.rowcount


def _temporary_index_name(name: str) -> str:
    return f"{name[:50]}_partitioned"


def _build_keys_and_indexes(cursor) -> None:
    """The plain table's unique keys (with started_at added) and indexes, on the
    partitioned twin under temporary names, plus a BRIN index on started_at."""
    keys, indexes, _ = _table_definition(cursor, TABLE)
    for _, name, definition in keys:
        cursor.execute(
            f'ALTER TABLE "{NEW_TABLE}" ADD CONSTRAINT "{_temporary_index_name(name)}" '
            f"{_with_partition_key(definition)}"
        )
    for name, definition in indexes:
        definition = definition.replace(f"INDEX {name} ON", f'INDEX "{_temporary_index_name(name)}" ON', 1)
        cursor.execute(definition.replace(f"public.{TABLE} ", f'public."{NEW_TABLE}" ', 1))
    # Rows arrive in time order, so a BRIN index (a few pages a month) finds a
    # day's rows for the rollups without a B-tree on started_at slowing each COPY.
    cursor.execute(f'CREATE INDEX "{TABLE[:40]}_started_brin" ON "{NEW_TABLE}" USING brin (started_at)')


def _swap(cursor, copied_upto: int) -> int:
    """Under a lock that holds writes (not reads) of the plain table: copy the
    last rows, replay deletes, move the identity on, swap names, drop the plain
    table. Returns rows copied in the catch-up."""
    cursor.execute(f'LOCK TABLE "{TABLE}" IN SHARE ROW EXCLUSIVE MODE')
    cursor.execute(f'SELECT coalesce(max(id), 0) FROM "{TABLE}"')
    last = cursor.fetchone()[0]
    rows = _copy_batch(cursor, copied_upto, last) if last > copied_upto else 0
    cursor.execute(f'DELETE FROM "{NEW_TABLE}" WHERE id IN (SELECT id FROM "{DELETED_IDS}")')
    keys, indexes, _ = _table_definition(cursor, TABLE)
    cursor.execute(f'DROP TABLE "{TABLE}"')  # its trigger goes with it
    cursor.execute(f'DROP FUNCTION {DELETED_IDS}()')
    cursor.execute(f'DROP TABLE "{DELETED_IDS}"')
    cursor.execute(f'ALTER TABLE "{NEW_TABLE}" RENAME TO "{TABLE}"')
    # Django's migrations name indexes and constraints: give them their names back.
    for _, name, _ in keys:
        cursor.execute(f'ALTER TABLE "{TABLE}" RENAME CONSTRAINT "{_temporary_index_name(name)}" TO "{name}"')
    for name, _ in indexes:
        cursor.execute(f'ALTER INDEX "{_temporary_index_name(name)}" RENAME TO "{name}"')
    for partition in children(TABLE):
        if partition.startswith(NEW_TABLE):
            cursor.execute(f'ALTER TABLE "{partition}" RENAME TO "{TABLE}{partition[len(NEW_TABLE):]}"')
    cursor.execute(
        f'ALTER TABLE "{TABLE}" ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (START WITH {last + 1})'
    )
    return rows


def convert_to_partitioned(
    batch_size: int = DEFAULT_BATCH_SIZE,
    months_ahead: int = DEFAULT_MONTHS_AHEAD,
    progress: Callable[[str], None] = lambda message: None,
    now: datetime | None = None,
) -> Conversion | None:
    """Turn the plain layer table into monthly partitions while the app runs.

    1. An empty partitioned twin is created with a partition for every month
       from the oldest row to `months_ahead` past now, and a trigger records
       ids deleted from the plain table from then on.
    2. Rows are copied in id batches of `batch_size`, each its own transaction,
       while ingest goes on writing the plain table.
    3. The keys and indexes are built on the twin (no writer waits on it).
    4. One short transaction holds writes to the plain table (reads go on),
       copies the rows written since, replays the recorded deletes, drops the
       plain table and gives the twin its name, indexes and identity.

    Holds a session advisory lock so retention does not run meanwhile. Returns
    None where there is nothing to do (SQLite, already partitioned). A crash
    before step 4 leaves the plain table in use and the twin behind; running it
    again starts over (the leftovers are dropped first).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not is_postgresql() or is_partitioned():
        return None
    began = time.monotonic()
    with maintenance_lock(), connection.cursor() as cursor:
        _drop_leftovers(cursor)
        cursor.execute(f'SELECT min(started_at), coalesce(max(id), 0) FROM "{TABLE}"')
        oldest, upto = cursor.fetchone()
        this_month = month_start(now or datetime.now(timezone.utc))
        first = _months_after(this_month, -MAX_MONTHS_BACK)
        months = [max(first, month_start(oldest)) if oldest and month_start(oldest) < this_month else this_month]
        while months[-1] < _months_after(this_month, months_ahead):
            months.append(next_month(months[-1]))
        with transaction.atomic():
            _create_partitioned_copy(cursor, months)
        progress(f"created {NEW_TABLE} with {len(months)} monthly partitions; copying ids up to {upto}")
        copied = batches = 0
        done = 0
        while done < upto:
            with transaction.atomic():
                copied += _copy_batch(cursor, done, min(done + batch_size, upto))
            batches += 1
            done = min(done + batch_size, upto)
            progress(f"copied {copied:,} rows (ids up to {done:,} of {upto:,})")
        with transaction.atomic():
            _build_keys_and_indexes(cursor)
        progress("built keys and indexes")
        held = time.monotonic()
        with transaction.atomic():
            copied += _swap(cursor, upto)
        write_hold = time.monotonic() - held
        progress(f"swapped: writes were held for {write_hold * 1000:.0f} ms")
    return Conversion(copied, batches, len(months), write_hold, time.monotonic() - began)


def _months_after(month: date, count: int) -> date:
    """The first of the month `count` months after `month` (before it, for a negative count)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _drop_leftovers(cursor) -> None:
    """What an interrupted conversion left: the twin, its partitions, the trigger."""
    cursor.execute(f'DROP TRIGGER IF EXISTS "{DELETED_IDS}" ON "{TABLE}"')
    cursor.execute(f"DROP FUNCTION IF EXISTS {DELETED_IDS}()")
    cursor.execute(f'DROP TABLE IF EXISTS "{DELETED_IDS}"')
    cursor.execute(f'DROP TABLE IF EXISTS "{NEW_TABLE}" CASCADE')
