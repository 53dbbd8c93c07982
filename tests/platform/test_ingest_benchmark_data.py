"""benchmarks/platform_ingest.py: the data it builds (runs, layer rows spread over a
year, the series catalogue) is consistent, the keys it drops for the load come
back exactly as they were, and the databases it creates are dropped, also on
Ctrl-C, while leftovers in use are left alone."""
from __future__ import annotations

import os
import signal
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from benchmarks import platform_ingest as bench
from results.models import LayerMeasurement, Run, Series
from tests.conftest import need_service

END = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)
DAYS = 365


def test_plan_reaches_the_rows_with_full_series_and_more_machines_as_it_grows():
    pairs = bench.plan(10_000_000, 5000)
    total = sum(p.rows for p in pairs)
    assert 10_000_000 <= total < 10_000_000 + max(layers for _, layers in bench.MODELS)
    assert all(p.runs == 5000 for p in pairs[:-1]) and 1 <= pairs[-1].runs <= 5000
    assert {p.machine for p in pairs} == {0, 1}  # 5 M rows a machine: each of the 10 models, 5,000 runs
    big = bench.plan(100_000_000, 5000)
    assert len({p.machine for p in big}) == 20 and len({p.model for p in big}) == len(bench.MODELS)
    assert bench.plan(1, 5000) == [bench.Pair(0, 0, bench.MODELS[0][1], 1)]
    with pytest.raises(ValueError, match="rows and points"):
        bench.plan(0, 5000)


@pytest.fixture
def postgres(transactional_db):
    """Committed writes (the build commits and vacuums); partitions the build adds are dropped after."""
    if connection.vendor != "postgresql":
        need_service(f"the benchmark builds with PostgreSQL's SQL, the test database is {connection.vendor}")
    before = set(partitions())
    yield
    with connection.cursor() as cursor:
        for name in set(partitions()) - before:
            cursor.execute(f'DROP TABLE "{name}"')


def partitions() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relid::regclass::text FROM pg_partition_tree(%s::regclass) WHERE relid <> %s::regclass",
                       [LayerMeasurement._meta.db_table] * 2)
        return [name for (name,) in cursor.fetchall()]


def keys() -> set[tuple]:
    """Every index (with its definition and validity) and constraint (with its
    definition and whether it is validated) of the run and layer tables and of
    the layer table's partitions."""
    tables = [Run._meta.db_table, LayerMeasurement._meta.db_table, *partitions()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid), x.indisvalid FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = ANY(%s)", [tables])
        indexes = {("index", *row) for row in cursor.fetchall()}
        cursor.execute(
            "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid), c.convalidated FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname = ANY(%s)", [tables])
        return indexes | {("constraint", *row) for row in cursor.fetchall()}


def test_build_writes_consistent_rows_over_a_year_and_puts_every_key_back(postgres):
    first = END.replace(minute=0) - timedelta(days=DAYS)
    with connection.cursor() as cursor:
        bench.ensure_month_partitions(cursor, LayerMeasurement._meta.db_table, first, END)
    before = keys()
    assert any(kind == "index" and name == "layer_series" for kind, _, name, *_ in before)

    built = bench.build(5000, 20, days=DAYS, end=END, progress=False)

    assert keys() == before
    pairs = bench.plan(5000, 20)
    assert [(layers, runs) for _, _, layers, runs in built.pairs] == [(p.layers, p.runs) for p in pairs]
    assert built.rows == LayerMeasurement.objects.count() == sum(p.rows for p in pairs) == 5048
    assert built.runs == Run.objects.count() == sum(p.runs for p in pairs)
    with connection.cursor() as cursor:
        cursor.execute(  # the copies of the run's fields agree with it; every run has all its model's layers
            "SELECT count(*) FROM results_layermeasurement l JOIN results_run r ON r.id = l.run_id "
            "WHERE (l.machine_id, l.benchmark_id, l.started_at) <> (r.machine_id, r.benchmark_id, r.started_at)")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(DISTINCT date_trunc('month', started_at AT TIME ZONE 'UTC')), "
                       "min(started_at), max(started_at) FROM results_layermeasurement")
        months, earliest, latest = cursor.fetchone()
        cursor.execute("SELECT oid::regclass::text FROM pg_class WHERE oid = ANY(%s::regclass[]) "
                       "AND pg_get_expr(relpartbound, oid) = 'DEFAULT'", [partitions()])
        for (default,) in cursor.fetchall():  # a partitioned table's default partition gets none of the year
            cursor.execute(f'SELECT count(*) FROM "{default}"')
            assert cursor.fetchone()[0] == 0
    assert months >= 12 and earliest >= first and latest <= END
    for machine, benchmark, layers, runs in built.pairs:
        series = Series.objects.filter(machine__name=machine, benchmark_id=benchmark)
        assert series.count() == layers + 1  # each layer and end_to_end
        assert set(series.values_list("points", flat=True)) == {runs}
        assert (LayerMeasurement.objects.filter(machine__name=machine, benchmark_id=benchmark).count()
                == layers * runs)

    reads = bench.series_reads(built.pairs, 20, queries=5)  # raises unless each read gets 20 points
    assert set(reads) == {"results.series.series_points", "bare ORM query on layer_series"}


def test_keys_come_back_after_an_interrupted_load(postgres):
    before = keys()
    times: dict[str, float] = {}
    with pytest.raises(KeyboardInterrupt), connection.cursor() as cursor:
        with bench.keys_dropped(cursor, [Run._meta.db_table, LayerMeasurement._meta.db_table], True, times):
            assert not any(name == "layer_series" for _, _, name, *_ in keys())
            raise KeyboardInterrupt
    assert keys() == before and times["indexes and keys"] > 0


def test_sigterm_ends_the_run_like_ctrl_c():
    with pytest.raises(KeyboardInterrupt), bench.interrupts_as_exit():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def postgres_url(name: str) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme not in ("postgres", "postgresql"):
        need_service("creating and dropping databases needs PostgreSQL (set DATABASE_URL)")
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def exists(url: str) -> bool:
    return bench.database_name(url) in bench.database_sizes(url, bench.database_name(url))


def test_the_databases_a_run_creates_are_dropped_after_ctrl_c_and_kept_with_keep(capsys):
    url = postgres_url(f"roofwatch_bench_test_{uuid.uuid4().hex[:12]}")
    databases = bench.BenchDatabases(keep=False)
    with pytest.raises(KeyboardInterrupt):
        try:
            databases.create(url)
            assert exists(url)
            raise KeyboardInterrupt
        finally:
            databases.close()
    assert not exists(url)
    assert f"dropped database {bench.database_name(url)} (" in capsys.readouterr().out

    kept = bench.BenchDatabases(keep=True)
    kept.create(url)
    kept.close()
    try:
        assert exists(url)
        assert f"kept database {bench.database_name(url)} (" in capsys.readouterr().out
        with pytest.raises(SystemExit, match="exists already .* --drop-leftovers drops it"):
            bench.BenchDatabases(keep=False).create(url)  # a second run does not build over it
    finally:
        bench.drop_database(url, bench.database_name(url), force=True)


def test_drop_leftovers_drops_stale_databases_and_leaves_those_in_use():
    import psycopg

    prefix = f"roofwatch_bench_test_{uuid.uuid4().hex[:12]}"
    stale, busy = postgres_url(f"{prefix}_stale"), postgres_url(f"{prefix}_busy")
    for url in (stale, busy):
        bench.ensure_database(url)
    try:
        with psycopg.connect(busy):
            assert bench.drop_leftovers(stale, prefix) == [bench.database_name(stale)]
            assert not exists(stale) and exists(busy)
    finally:
        for url in (stale, busy):
            bench.drop_database(url, bench.database_name(url), force=True)
