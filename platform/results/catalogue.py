"""The series catalogue (results.models.Series): one row per series with its
first and last time and how many points it has.

`refresh_series_for_run` runs after each ingest (results.tasks.refresh_series)
and adds one run: one upsert of its end-to-end and layer series (points + 1,
first = least, last = greatest), in the transaction that sets the run's
`catalogued` flag, so a retried or redelivered task adds nothing the second
time and the order runs arrive in does not matter. Its cost grows with the
run's layers, not with the series' history.

`add_end_to_end_points` is the bulk form for runs without layers stored in
bulk (asv import): the caller inserts them with `catalogued` set and, in the
same transaction, adds their points per series in one upsert.

`refresh_all_series` rebuilds the whole catalogue with aggregate queries: to
catch up runs whose task was lost. Retention needs no rebuild: the days whose
layer rows it deletes live on in the daily rollups (results.rollups), which a
rebuild counts for the days before the raw window (a rollup's `n` runs), so a
series keeps its first time and run count when its old rows go.
"""
from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, Max, Min, QuerySet, Sum

from engine.report import END_TO_END
from results.models import Benchmark, DailyRollup, LayerMeasurement, Run, Series
from results.rollups import raw_window_start

BATCH_SIZE = 1000


def refresh_series_for_run(run_id: int) -> int:
    """Add run `run_id`'s points to the catalogue (its end_to_end series and one
    per layer it has); returns how many series rows were written, 0 when the
    run is already counted or no longer exists. A run no series takes (a
    bisection's) is only marked counted: it adds no points."""
    run = Run.objects.filter(pk=run_id)
    benchmark_id = run.values_list("benchmark_id", flat=True).first()
    if benchmark_id is None:
        return 0
    with transaction.atomic():
        _lock_benchmarks(Benchmark.objects.filter(pk=benchmark_id))
        # The row lock of this UPDATE makes a concurrent second delivery wait, then find the flag set.
        if not run.filter(catalogued=False).update(catalogued=True):
            return 0
        if not run.in_series().exists():
            return 0  # a bisection's run: counted, with no points
        with connection.cursor() as cursor:
            cursor.execute(_upsert_sql(), [END_TO_END, run_id, run_id])
            return cursor.rowcount


def add_end_to_end_points(points: dict[tuple[int, int], tuple[datetime, datetime, int]]) -> None:
    """Add runs stored in the caller's transaction (with catalogued=True and no
    layers) to their end-to-end series: `points` maps (machine id, benchmark id)
    to (first started_at, last started_at, how many runs)."""
    if not points:
        return
    _lock_benchmarks(Benchmark.objects.filter(pk__in={benchmark for _, benchmark in points}))
    q = connection.ops.quote_name
    series = q(Series._meta.db_table)
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    first, last, points_column = q("first"), q("last"), q("points")
    sql = f"""
        INSERT INTO {series} ({q("machine_id")}, {q("benchmark_id")}, {q("layer")}, {q("op")}, {q("index")},
                              {first}, {last}, {points_column})
        VALUES (%s, %s, %s, '', NULL, %s, %s, %s)
        ON CONFLICT ({q("machine_id")}, {q("benchmark_id")}, {q("layer")}) DO UPDATE SET
            {points_column} = {series}.{points_column} + EXCLUDED.{points_column},
            {first} = {least}({series}.{first}, EXCLUDED.{first}),
            {last} = {greatest}({series}.{last}, EXCLUDED.{last})
    """
    rows = [(machine, benchmark, END_TO_END, *span) for (machine, benchmark), span in sorted(points.items())]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)  # in series order, as _upsert_sql: two writers cannot deadlock


def refresh_all_series() -> int:
    """Rebuild the whole catalogue (series left with no points are removed) from
    the runs already counted, then count the runs whose task has not run yet;
    returns how many rows it has now. Aggregates the whole layer table: for
    after retention, not for every ingest."""
    with transaction.atomic():
        _lock_benchmarks(Benchmark.objects.all())
        counted = Run.objects.in_series().filter(catalogued=True)
        layers = LayerMeasurement.objects.in_series().filter(run__catalogued=True)
        raw_start = raw_window_start()
        rollups = DailyRollup.objects.none()
        if raw_start is not None:  # before it, the rollups stand for the rows (some may be deleted already)
            layers = layers.filter(started_at__gte=raw_start)
            rollups = DailyRollup.objects.filter(day__lt=raw_start.date())
        rows = _end_to_end_series(counted) + _layer_series(layers, rollups)
        Series.objects.all().delete()
        Series.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    for run_id in Run.objects.filter(catalogued=False).order_by("pk").values_list("pk", flat=True).iterator():
        refresh_series_for_run(run_id)
    return Series.objects.count()


def _lock_benchmarks(benchmarks: QuerySet) -> None:
    """Serialise catalogue writes of the same benchmark's series (PostgreSQL row
    locks; SQLite serialises writers anyway): a rebuild holds every benchmark,
    so no per-run update lands between its delete and its insert. FOR NO KEY
    UPDATE does not block ingests, whose inserts take FOR KEY SHARE."""
    list(benchmarks.select_for_update(no_key=True).order_by("pk").values_list("pk", flat=True))


def _upsert_sql() -> str:
    """One statement adding one run (params: END_TO_END, run id, run id): its
    end-to-end row and its layer rows, inserted or merged into existing series.
    Rows go in layer order, so two runs updating the same series lock them in
    the same order and cannot deadlock."""
    q = connection.ops.quote_name
    series, runs, layers = (q(m._meta.db_table) for m in (Series, Run, LayerMeasurement))
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    first, last, index = q("first"), q("last"), q("index")
    return f"""
        INSERT INTO {series} ({q("machine_id")}, {q("benchmark_id")}, {q("layer")}, {q("op")}, {index},
                              {first}, {last}, {q("points")})
        SELECT machine_id, benchmark_id, layer, op, position, started_at, started_at, 1 FROM (
            SELECT {q("machine_id")} AS machine_id, {q("benchmark_id")} AS benchmark_id, %s AS layer, '' AS op,
                   NULL AS position, {q("started_at")} AS started_at
            FROM {runs} WHERE {q("id")} = %s
            UNION ALL
            SELECT {q("machine_id")}, {q("benchmark_id")}, {q("name")}, {q("op")}, {index}, {q("started_at")}
            FROM {layers} WHERE {q("run_id")} = %s
        ) AS added WHERE true ORDER BY layer
        ON CONFLICT ({q("machine_id")}, {q("benchmark_id")}, {q("layer")}) DO UPDATE SET
            {q("points")} = {series}.{q("points")} + 1,
            {first} = {least}({series}.{first}, EXCLUDED.{first}),
            {last} = {greatest}({series}.{last}, EXCLUDED.{last}),
            {q("op")} = {greatest}({series}.{q("op")}, EXCLUDED.{q("op")}),
            {index} = {least}({series}.{index}, EXCLUDED.{index})
    """


def _end_to_end_series(runs: QuerySet) -> list[Series]:
    grouped = runs.order_by().values("machine_id", "benchmark_id").annotate(
        first=Min("started_at"), last=Max("started_at"), points=Count("id")
    )
    return [
        Series(machine_id=row["machine_id"], benchmark_id=row["benchmark_id"], layer=END_TO_END, op="", index=None,
               first=row["first"], last=row["last"], points=row["points"])
        for row in grouped
    ]


def _layer_series(layers: QuerySet, rollups: QuerySet) -> list[Series]:
    grouped = layers.order_by().values("machine_id", "benchmark_id", "name").annotate(
        op_name=Max("op"),  # one op per layer name unless the model changed; then the largest name stands for all
        position=Min("index"),
        first=Min("started_at"),
        last=Max("started_at"),
        points=Count("id"),
    )
    series = {
        (row["machine_id"], row["benchmark_id"], row["name"]): Series(
            machine_id=row["machine_id"], benchmark_id=row["benchmark_id"], layer=row["name"], op=row["op_name"],
            index=row["position"], first=row["first"], last=row["last"], points=row["points"])
        for row in grouped
    }
    days = rollups.order_by().values("machine_id", "benchmark_id", "layer").annotate(
        op_name=Max("op"), position=Min("index"), first_run=Min("first"), last_run=Max("last"), runs=Sum("n"),
    )
    for row in days:  # days before the raw window: all older than the raw rows of the same series
        key = (row["machine_id"], row["benchmark_id"], row["layer"])
        if key in series:
            known = series[key]
            known.first, known.points = row["first_run"], known.points + row["runs"]
            known.index = min(known.index, row["position"])
        else:
            series[key] = Series(machine_id=key[0], benchmark_id=key[1], layer=key[2], op=row["op_name"],
                                 index=row["position"], first=row["first_run"], last=row["last_run"],
                                 points=row["runs"])
    return list(series.values())
