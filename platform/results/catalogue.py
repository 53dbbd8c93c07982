"""The series catalogue (results.models.Series), recomputed from the stored
runs and layer rows with aggregate queries, so a refresh is idempotent: run it
twice, late or out of order and the rows come out the same.

`refresh_series_for_run` runs after each ingest (results.tasks.refresh_series);
`refresh_all_series` after retention deleted layer rows.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, Max, Min, QuerySet

from engine.report import END_TO_END
from results.models import Benchmark, LayerMeasurement, Run, Series

UNIQUE_FIELDS = ["machine", "benchmark", "layer"]
UPDATE_FIELDS = ["op", "index", "first", "last", "points"]
BATCH_SIZE = 1000


def refresh_series_for_run(run_id: int) -> int:
    """Recompute the catalogue rows of the series run `run_id` belongs to (its
    end_to_end series and one per layer name it has); returns how many rows
    were written, 0 when the run no longer exists."""
    run = Run.objects.filter(pk=run_id).values("machine_id", "benchmark_id").first()
    if run is None:
        return 0
    machine_id, benchmark_id = run["machine_id"], run["benchmark_id"]
    names = sorted(set(LayerMeasurement.objects.filter(run_id=run_id).values_list("name", flat=True)))
    with transaction.atomic():
        _lock_benchmarks(Benchmark.objects.filter(pk=benchmark_id))
        runs = Run.objects.filter(machine_id=machine_id, benchmark_id=benchmark_id)
        layers = LayerMeasurement.objects.filter(machine_id=machine_id, benchmark_id=benchmark_id, name__in=names)
        rows = _end_to_end_series(runs) + _layer_series(layers)
        _upsert(rows)
    return len(rows)


def refresh_all_series() -> int:
    """Rebuild the whole catalogue (series left with no points are removed);
    returns how many rows it has now. Aggregates the whole layer table: for
    after retention, not for every ingest."""
    with transaction.atomic():
        _lock_benchmarks(Benchmark.objects.all())
        rows = _end_to_end_series(Run.objects.all()) + _layer_series(LayerMeasurement.objects.all())
        Series.objects.all().delete()
        Series.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    return len(rows)


def _lock_benchmarks(benchmarks: QuerySet) -> None:
    """Serialise refreshes of the same benchmark's series (PostgreSQL row locks;
    SQLite serialises writers anyway). The lock is taken before the aggregates
    are read, so the refresh that writes last has read every run committed
    before it started: two workers cannot leave an older count behind. FOR NO
    KEY UPDATE does not block ingests, whose inserts take FOR KEY SHARE."""
    list(benchmarks.select_for_update(no_key=True).order_by("pk").values_list("pk", flat=True))


def _end_to_end_series(runs: QuerySet) -> list[Series]:
    grouped = runs.order_by().values("machine_id", "benchmark_id").annotate(
        first=Min("started_at"), last=Max("started_at"), points=Count("id")
    )
    return [
        Series(machine_id=row["machine_id"], benchmark_id=row["benchmark_id"], layer=END_TO_END, op="", index=None,
               first=row["first"], last=row["last"], points=row["points"])
        for row in grouped
    ]


def _layer_series(layers: QuerySet) -> list[Series]:
    grouped = layers.order_by().values("machine_id", "benchmark_id", "name").annotate(
        op_name=Max("op"),  # one op per layer name unless the model changed; then the largest name stands for all
        position=Min("index"),
        first=Min("started_at"),
        last=Max("started_at"),
        points=Count("id"),
    )
    return [
        Series(machine_id=row["machine_id"], benchmark_id=row["benchmark_id"], layer=row["name"], op=row["op_name"],
               index=row["position"], first=row["first"], last=row["last"], points=row["points"])
        for row in grouped
    ]


def _upsert(rows: Iterable[Series]) -> None:
    Series.objects.bulk_create(
        list(rows), batch_size=BATCH_SIZE, update_conflicts=True, unique_fields=UNIQUE_FIELDS,
        update_fields=UPDATE_FIELDS,
    )
