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
rows are copied in batches by id while the app goes on writing, inserts and
deletes made meanwhile are logged by triggers and caught up, and the table is
locked only for a short swap (see its docstring).
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone

from django.db import OperationalError, connection, transaction
from psycopg.errors import LockNotAvailable

from results.models import LayerMeasurement

TABLE = LayerMeasurement._meta.db_table
DEFAULT_PARTITION = f"{TABLE}_pdefault"
NEW_TABLE = f"{TABLE}_partitioned"  # the table being filled during an online conversion
OLD_TABLE = f"{TABLE}_unpartitioned"  # the emptied plain table after it, until dropped
# The plain table's changes during an online conversion, logged by statement triggers.
INSERTED_IDS = f"{TABLE}_inserted_during_conversion"
DELETED_IDS = f"{TABLE}_deleted_during_conversion"
CHANGE_LOGS = {INSERTED_IDS: ("INSERT", "NEW"), DELETED_IDS: ("DELETE", "OLD")}
SWAP_LOCK_TIMEOUT_MS = 300  # the swap gives up a lock wait after this, and tries again
SWAP_TRIES = 30
CATCH_UP_PASSES, CATCH_UP_ENOUGH = 5, 10_000  # passes before the swap; stop once one copies fewer rows
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
    write_hold_seconds: float  # how long the swap locked the layer table (its reads and writes wait)
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
    # Rows written to the plain table from now on, and rows deleted (retention,
    # a run deleted), are logged by id: the catch-up copies the first and the
    # swap replays the second. Creating the triggers waits for writes in flight,
    # so every row not logged is committed before the batches read it.
    for log, (event, transition) in CHANGE_LOGS.items():
        cursor.execute(f'CREATE TABLE "{log}" (id bigint NOT NULL)')
        cursor.execute(
            f"CREATE FUNCTION {log}() RETURNS trigger LANGUAGE plpgsql AS "
            f'$$ BEGIN INSERT INTO "{log}" SELECT id FROM changed; RETURN NULL; END $$'
        )
        cursor.execute(
            f'CREATE TRIGGER "{log}" AFTER {event} ON "{TABLE}" REFERENCING {transition} TABLE AS changed '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {log}()"
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


def _catch_up(cursor) -> int:
    """Copy the rows logged as written since the conversion began that the twin
    lacks (a row the batches copied already is skipped: its id is in the twin's
    primary key). Each logged id is taken once. Returns rows copied."""
    cursor.execute(
        f'WITH taken AS (DELETE FROM "{INSERTED_IDS}" RETURNING id) '
        f'INSERT INTO "{NEW_TABLE}" SELECT o.* FROM "{TABLE}" o JOIN taken USING (id) '
        f'WHERE NOT EXISTS (SELECT 1 FROM "{NEW_TABLE}" n WHERE n.id = o.id)'
    )
    return cursor.rowcount


def _swap(cursor) -> int:
    """Under its locks (writes to machines, benchmarks and runs wait, reads go
    on; the plain table waits for everything): copy the last logged rows, replay
    the logged deletes, empty the plain table and rename it away (dropping it
    here would lock the tables its foreign keys point at, which uploads hold),
    then give the twin its name, Django's constraint and index names and the
    identity. Returns rows copied."""
    cursor.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT_MS}ms'")
    # First the tables the foreign keys point at, EXCLUSIVE (reads go on): the
    # catch-up's key checks lock their rows, and an upload holding its machine's
    # row while it waited for the layer table would deadlock with them. Uploads
    # begin by locking their machine, so from here on none holds anything.
    cursor.execute(
        "SELECT DISTINCT confrelid::regclass::text FROM pg_constraint "
        "WHERE conrelid = to_regclass(%s) AND contype = 'f' ORDER BY 1",
        [TABLE],
    )
    for (referenced,) in cursor.fetchall():
        cursor.execute(f"LOCK TABLE {referenced} IN EXCLUSIVE MODE")
    cursor.execute(f'LOCK TABLE "{TABLE}" IN ACCESS EXCLUSIVE MODE')
    rows = _catch_up(cursor)
    cursor.execute(f'DELETE FROM "{NEW_TABLE}" WHERE id IN (SELECT id FROM "{DELETED_IDS}")')
    cursor.execute(f'SELECT coalesce(max(id), 0) FROM "{TABLE}"')
    last = cursor.fetchone()[0]
    keys, indexes, _ = _table_definition(cursor, TABLE)
    for log in CHANGE_LOGS:
        cursor.execute(f'DROP TRIGGER "{log}" ON "{TABLE}"')
        cursor.execute(f"DROP FUNCTION {log}()")
        cursor.execute(f'DROP TABLE "{log}"')
    # Emptied, so a run deleted before it is dropped finds no row of it there.
    cursor.execute(f'TRUNCATE "{TABLE}"')
    cursor.execute(f'ALTER TABLE "{TABLE}" RENAME TO "{OLD_TABLE}"')
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [OLD_TABLE])
    cursor.execute(f'ALTER SEQUENCE {cursor.fetchone()[0]} RENAME TO "{OLD_TABLE}_id_seq"')
    for _, name, _ in keys:
        cursor.execute(f'ALTER TABLE "{OLD_TABLE}" RENAME CONSTRAINT "{name}" TO "{_old_name(name)}"')
    for name, _ in indexes:
        cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{_old_name(name)}"')
    cursor.execute(f'ALTER TABLE "{NEW_TABLE}" RENAME TO "{TABLE}"')
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


def _old_name(name: str) -> str:
    return f"{name[:50]}_unpartitioned"


def drop_old_table(tries: int = SWAP_TRIES) -> bool:
    """Drop the emptied plain table a conversion renamed away. Dropping it locks
    the tables its foreign keys point at, so each try waits at most
    SWAP_LOCK_TIMEOUT_MS; returns whether it is gone (the partition_layers
    command tries again)."""
    for attempt in range(1, tries + 1):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT_MS}ms'")
                cursor.execute(f'DROP TABLE IF EXISTS "{OLD_TABLE}"')
            return True
        except OperationalError as exc:
            if not isinstance(exc.__cause__, LockNotAvailable):
                raise
            time.sleep(0.1 * attempt)
    return False


def convert_to_partitioned(
    batch_size: int = DEFAULT_BATCH_SIZE,
    months_ahead: int = DEFAULT_MONTHS_AHEAD,
    progress: Callable[[str], None] = lambda message: None,
    now: datetime | None = None,
) -> Conversion | None:
    """Turn the plain layer table into monthly partitions while the app runs.

    1. An empty partitioned twin is created with a partition for every month
       from the oldest row (at most MAX_MONTHS_BACK) to `months_ahead` past
       now; statement triggers log the ids inserted into and deleted from the
       plain table from then on.
    2. The rows there before are copied in id batches of `batch_size`, each its
       own transaction, while ingest goes on writing the plain table.
    3. The keys and indexes are built on the twin (no writer waits on it).
    4. The logged rows are copied, a few passes, holding nothing.
    5. One short transaction locks the plain table (its reads and writes
       wait), copies the last logged rows, replays the logged deletes, empties
       and renames the plain table away and gives the twin its name, indexes
       and identity. A lock wait over SWAP_LOCK_TIMEOUT_MS gives up and tries
       again, so uploads never queue long behind it.
    6. The emptied plain table is dropped (drop_old_table).

    Holds a session advisory lock so retention does not run meanwhile. Returns
    None where there is nothing to do (SQLite, already partitioned). A crash
    before step 5 leaves the plain table in use and the twin behind; running it
    again starts over (the leftovers are dropped first).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not is_postgresql() or is_partitioned():
        return None
    began = time.monotonic()
    with maintenance_lock(), connection.cursor() as cursor:
        _drop_leftovers(cursor)
        cursor.execute(f'SELECT min(started_at) FROM "{TABLE}"')
        oldest = cursor.fetchone()[0]
        this_month = month_start(now or datetime.now(timezone.utc))
        first = _months_after(this_month, -MAX_MONTHS_BACK)
        months = [max(first, month_start(oldest)) if oldest and month_start(oldest) < this_month else this_month]
        while months[-1] < _months_after(this_month, months_ahead):
            months.append(next_month(months[-1]))
        with transaction.atomic():
            _create_partitioned_copy(cursor, months)
        cursor.execute(f'SELECT coalesce(max(id), 0) FROM "{TABLE}"')  # newer rows are logged
        upto = cursor.fetchone()[0]
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
        # Catch up without holding anything, so the swap has little left to copy.
        for _ in range(CATCH_UP_PASSES):
            with transaction.atomic():
                caught = _catch_up(cursor)
            copied += caught
            progress(f"caught up {caught:,} rows written meanwhile")
            if caught < CATCH_UP_ENOUGH:
                break
        rows, write_hold = _swap_with_retries(cursor, progress)
        copied += rows
        progress(f"swapped: the layer table was locked for {write_hold * 1000:.0f} ms")
        progress("dropped the emptied plain table" if drop_old_table() else
                 f"{OLD_TABLE} (empty) is still there: its tables were busy; partition_layers drops it")
    return Conversion(copied, batches, len(months), write_hold, time.monotonic() - began)


def _swap_with_retries(cursor, progress: Callable[[str], None]) -> tuple[int, float]:
    """The swap, tried again after a lock wait that timed out (a long upload in
    the way): never waiting long on a lock keeps writers from queueing behind
    it. Returns (rows copied, seconds writes were held by the try that worked)."""
    for attempt in range(1, SWAP_TRIES + 1):
        began = time.monotonic()
        try:
            with transaction.atomic():
                rows = _swap(cursor)
            return rows, time.monotonic() - began
        except OperationalError as exc:
            if not isinstance(exc.__cause__, LockNotAvailable) or attempt == SWAP_TRIES:
                raise
            progress(f"swap: a lock was busy for {SWAP_LOCK_TIMEOUT_MS} ms, trying again ({attempt})")
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable")


def _months_after(month: date, count: int) -> date:
    """The first of the month `count` months after `month` (before it, for a negative count)."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _drop_leftovers(cursor) -> None:
    """What an interrupted conversion left: the twin, its partitions, the trigger."""
    for log in CHANGE_LOGS:
        cursor.execute(f'DROP TRIGGER IF EXISTS "{log}" ON "{TABLE}"')
        cursor.execute(f"DROP FUNCTION IF EXISTS {log}()")
        cursor.execute(f'DROP TABLE IF EXISTS "{log}"')
    cursor.execute(f'DROP TABLE IF EXISTS "{NEW_TABLE}" CASCADE')
    cursor.execute(f'DROP TABLE IF EXISTS "{OLD_TABLE}"')
