"""Series queries: which series exist, and the points of one.

A series is (machine, benchmark, layer, metric), with layer "end_to_end" for
the whole model. The list of series comes from the Series catalogue. Points of
a layer come from one range scan of the `layer_series` index (machine,
benchmark, name, started_at) merged with their runs' fields from one range
scan of `run_series_points`; end-to-end points from `run_series_points` too.
All are read with `values_list`, so thousands of points cost a query or two
and no model instances.

A layer series reaches back past the raw window (retention deletes old layer
rows once their days are rolled up): the part of the asked range before
`rollups.raw_window_start()` comes from the daily rollups, one point a day
(`unique_daily_rollup`, one range scan), the rest from raw rows, and the
answer's `resolution` says which part is which. End-to-end points are always
raw: retention keeps runs.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db import connections
from django.db.models import CharField, F, Func, QuerySet, Subquery
from rest_framework.exceptions import NotFound, ValidationError

from engine.report import END_TO_END  # the reserved layer name of the whole-model series
from fleet.models import Machine
from core.query import optional_int
from results.filters import parse_instant
from results.models import Benchmark, DailyRollup, LayerMeasurement, Run, Series
from results.rollups import last_sealed_day, midnight, raw_window_start

# metric -> unit. Time metrics are seconds per inference and come with p25/p75.
METRICS = {
    "median": "s",
    "min": "s",
    "gflops": "GFLOP/s",
    "gbs": "GB/s",
    "flops": "FLOPs",
    "bytes": "bytes",
    "ai": "FLOPs/byte",
}
TIME_METRICS = ("median", "min")
END_TO_END_METRICS = TIME_METRICS  # a run stores only end-to-end times
DEFAULT_POINTS = 5000
MAX_ID = 2**63 - 1  # the largest primary key of a BigAutoField
MAX_POINTS = 50000
SOURCE_RAW, SOURCE_DAILY = "raw", "daily"  # where the points of a resolution span come from


@dataclass(frozen=True)
class PointsQuery:
    metric: str
    since: datetime | None
    until: datetime | None
    limit: int

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> PointsQuery:
        """?metric=&since=&until=&limit=, each checked with a 400 naming it."""
        metric = params.get("metric") or "median"
        if metric not in METRICS:
            raise ValidationError({"metric": [f"Unknown metric {metric!r}; expected one of {', '.join(METRICS)}."]})
        return cls(
            metric=metric,
            since=parse_instant("since", params["since"]) if "since" in params else None,
            until=parse_instant("until", params["until"]) if "until" in params else None,
            limit=optional_int(params, "limit", 1, MAX_POINTS) or DEFAULT_POINTS,
        )


def series_catalog(params: Mapping[str, str]) -> QuerySet:
    """The series that exist, filtered by ?machine=<name>&benchmark=<id>&model=<name>&environment=<name>:
    one row per (machine, benchmark, layer) with the benchmark's environment, its op, how many points it
    has and when the first and last were taken; end_to_end first, then the
    layers in model order. Read from the Series catalogue (results.catalogue
    keeps it up to date), not aggregated from the measurements."""
    machine, model, environment = params.get("machine"), params.get("model"), params.get("environment")
    benchmark = optional_int(params, "benchmark", 1, MAX_ID)
    series = Series.objects.all()
    if machine:
        series = series.filter(machine__name=machine)
    if benchmark is not None:
        series = series.filter(benchmark_id=benchmark)
    if model:
        series = series.filter(benchmark__model=model)
    if environment:
        series = series.filter(benchmark__environment=environment)
    # end_to_end has no index: nulls first puts it before the layers.
    return series.order_by("machine__name", "benchmark_id", F("index").asc(nulls_first=True), "layer").values_list(
        "machine__name", "benchmark_id", "benchmark__model", "benchmark__environment", "layer", "op", "index",
        "points", "first", "last",
    )


SERIES_COLUMNS = ("machine", "benchmark", "model", "environment", "layer", "op", "index", "points", "first", "last")


def catalog_row(row: tuple) -> dict[str, Any]:
    """One row of `series_catalog` as the API's dict (index is None for end_to_end)."""
    item = dict(zip(SERIES_COLUMNS, row))
    if item["layer"] == END_TO_END:
        item["index"] = None
    return item


def series_points(machine_name: str, benchmark_id: int, layer: str, query: PointsQuery) -> dict[str, Any]:
    """{"series": {...}, "points": [...]}: the newest `query.limit` points of the
    series in [since, until), oldest first. 404 names the unknown machine,
    benchmark or layer."""
    machine_ids = Machine.objects.filter(name=machine_name).values("id")[:1]
    benchmark = (
        Benchmark.objects.select_related("project").filter(pk=benchmark_id)
        .annotate(machine_id=Subquery(machine_ids), last_sealed=Subquery(last_sealed_day())).first()
    )  # one query for both (and where the raw window starts) when they exist
    machine_id = benchmark.machine_id if benchmark else machine_ids.values_list("id", flat=True).first()
    if machine_id is None:
        raise NotFound(f"No machine named {machine_name!r}.")
    if benchmark is None:
        raise NotFound(f"No benchmark with id {benchmark_id}.")
    daily: list[dict[str, Any]] = []
    if layer == END_TO_END:
        rows, op = _end_to_end_rows(machine_id, benchmark, query), ""
        spans = [_span(SOURCE_RAW, query.since, query.until)]
    else:
        raw_start = raw_window_start(benchmark.last_sealed, fetch=False)
        raw_query, daily_query = _split(query, raw_start)
        rows = _layer_rows(machine_id, benchmark, layer, raw_query) if raw_query else []
        if daily_query and len(rows) < query.limit:
            daily = _daily_points(machine_id, benchmark, layer, daily_query, query.limit - len(rows))
        op = _layer_op(machine_id, benchmark, layer, machine_name, query if rows or daily else None)
        spans = [_span(SOURCE_DAILY, query.since, daily_query.until)] if daily_query else []
        if raw_query:
            spans.append(_span(SOURCE_RAW, raw_query.since, query.until))
    runs = Run.objects.in_series().filter(machine_id=machine_id, benchmark=benchmark)
    if not rows and layer == END_TO_END and not runs.exists():
        raise NotFound(f"No runs of benchmark {benchmark_id} ({benchmark}) on machine {machine_name!r}.")
    timed = query.metric in TIME_METRICS
    points = daily
    for row in reversed(rows):  # fetched newest first so the limit keeps the newest
        point = {
            "t": row[0] if isinstance(row[0], str) else _iso(row[0]),
            "run": row[1], "commit": row[2], "model_version": row[3], "config_hash": row[4],
            "value": row[5],
        }
        if timed:
            point["p25"], point["p75"] = row[6], row[7]
        points.append(point)
    series = {
        "machine": machine_name, "benchmark": benchmark.pk, "project": benchmark.project.name,
        "model": benchmark.model, "params": benchmark.params, "environment": benchmark.environment,
        "layer": layer, "op": op,
        "metric": query.metric, "unit": METRICS[query.metric],
    }
    return {"series": series, "resolution": spans, "points": points}


def _split(query: PointsQuery, raw_start: datetime | None) -> tuple[PointsQuery | None, PointsQuery | None]:
    """The asked range cut at the raw window's start: (the raw part, the daily
    part), either None where the range has no such part."""
    if raw_start is None or (query.until is not None and query.until <= raw_start):
        return (None, query) if raw_start is not None else (query, None)
    if query.since is not None and query.since >= raw_start:
        return query, None
    return replace(query, since=raw_start), replace(query, until=raw_start)


def _span(source: str, since: datetime | None, until: datetime | None) -> dict[str, Any]:
    return {"source": source, "from": None if since is None else _iso(since),
            "to": None if until is None else _iso(until)}


# A daily point's value per metric, from (median, p25, p75, min, flops, bytes) of its rollup;
# the throughput metrics are derived from the day's median, as a run's are from its median.
DAILY_VALUE = {
    "median": lambda r: r[0],
    "min": lambda r: r[3],
    "gflops": lambda r: r[4] / r[0] / 1e9 if r[0] else 0.0,
    "gbs": lambda r: r[5] / r[0] / 1e9 if r[0] else 0.0,
    "flops": lambda r: float(r[4]),
    "bytes": lambda r: float(r[5]),
    "ai": lambda r: r[4] / r[5] if r[5] else 0.0,
}


def _daily_points(machine_id: int, benchmark: Benchmark, layer: str, query: PointsQuery, limit: int) -> list[dict]:
    """The newest `limit` daily points in the range, oldest first: t is the day's
    midnight (UTC), no run, and `runs` says how many runs the day summarises."""
    days = DailyRollup.objects.filter(machine_id=machine_id, benchmark=benchmark, layer=layer)
    if query.metric not in TIME_METRICS:  # as raw rows: no point where the day's work is unknown
        days = days.filter(flops__isnull=False, bytes__isnull=False)
    rows = _days_in_range(days, query).order_by("-day").values_list("day", "median", "p25", "p75", "min", "flops", "bytes", "n")[:limit]
    value, timed = DAILY_VALUE[query.metric], query.metric in TIME_METRICS
    points = []
    for day, *stats, n in reversed(rows):
        point = {"t": f"{day.isoformat()}T00:00:00Z", "run": None, "commit": None, "model_version": None,
                 "config_hash": None, "value": value(stats), "runs": n}
        if timed:
            point["p25"], point["p75"] = stats[1], stats[2]
        points.append(point)
    return points


def _days_in_range(days: QuerySet, query: PointsQuery) -> QuerySet:
    """The daily rows whose t (the day's midnight, UTC) is in the query's range."""
    if query.since is not None:
        first = _first_day_at_or_after(query.since)
        days = days.none() if first is None else days.filter(day__gte=first)
    if query.until is not None and (end := _first_day_at_or_after(query.until)) is not None:
        days = days.filter(day__lt=end)
    return days


def _first_day_at_or_after(moment: datetime) -> date | None:
    """The first UTC day whose midnight (a daily point's t) is at or after
    `moment`; None past the last day a date holds (9999-12-31)."""
    day = moment.astimezone(dt_timezone.utc).date()
    if moment == midnight(day):
        return day
    return None if day == date.max else day + timedelta(days=1)


class UtcIsoText(Func):
    """PostgreSQL: a timestamp as the text `_iso` makes of it (ISO 8601, 'Z',
    microseconds only when not zero). Parsing 5,000 timestamps into Python
    datetimes and formatting them again costs more than the query itself."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        utc = f"({sql} AT TIME ZONE 'UTC')"
        seconds = "YYYY-MM-DD\"T\"HH24:MI:SS"
        return (
            f"CASE WHEN date_trunc('second', {utc}) = {utc} THEN to_char({utc}, '{seconds}\"Z\"') "
            f"ELSE to_char({utc}, '{seconds}.US\"Z\"') END",
            params * 4,
        )


def _point_time(rows: QuerySet):
    """started_at as the points' "t": text from PostgreSQL, a datetime elsewhere (`_iso` formats it)."""
    return UtcIsoText("started_at") if connections[rows.db].vendor == "postgresql" else F("started_at")


def _time_range(rows: QuerySet, query: PointsQuery) -> QuerySet:
    if query.since is not None:
        rows = rows.filter(started_at__gte=query.since)
    if query.until is not None:
        rows = rows.filter(started_at__lt=query.until)
    return rows


def _end_to_end_rows(machine_id: int, benchmark: Benchmark, query: PointsQuery) -> list[tuple]:
    if query.metric not in END_TO_END_METRICS:
        raise ValidationError({"metric": [
            f"Metric {query.metric!r} is per layer; end_to_end has {', '.join(END_TO_END_METRICS)}."
        ]})
    runs = _time_range(Run.objects.in_series().filter(machine_id=machine_id, benchmark=benchmark), query)
    return list(
        runs.order_by("-started_at", "-id")
        .values_list(_point_time(runs), "id", "commit", "model_version", "config_hash", query.metric, "p25",
                     "p75")[
            : query.limit
        ]
    )


def _layer_rows(machine_id: int, benchmark: Benchmark, layer: str, query: PointsQuery) -> list[tuple]:
    """The newest `query.limit` points of a layer series in its raw range, newest
    first, as (t, run, commit, model_version, config_hash, value, p25, p75).

    Two range reads merged here, not a join: the layer rows from the
    layer_series index (index-only for the time metrics: one heap page per
    point would cost more than the rest of the request), and their runs' fields
    from the run_series_points index over the same time range. A join looked
    each run up by id, ~4 pages a point, 70-90 ms for 5,000 cold points at
    100 M rows against ~6 ms for the range. Bisection runs are left out here;
    where they took places in the limit, the next rows are read."""
    layers = LayerMeasurement.objects.filter(machine_id=machine_id, benchmark=benchmark, name=layer)
    if query.metric not in TIME_METRICS:  # a run whose layer's work is unknown (null) has no point of it
        layers = layers.filter(**{f"{query.metric}__isnull": False})
    layers = _time_range(layers, query).order_by("-started_at", "-run_id").values_list(
        _point_time(layers), "run_id", query.metric, "p25", "p75")
    rows: list[tuple] = []
    offset = 0
    while len(rows) < query.limit:
        chunk = list(layers[offset: offset + query.limit])
        # The times come as text (see _point_time): parsing only the two ends into datetimes.
        runs = _run_fields(machine_id, benchmark, _moment(chunk[-1][0]), _moment(chunk[0][0])) if chunk else {}
        rows += [(t, run, *runs[run], value, p25, p75) for t, run, value, p25, p75 in chunk if run in runs]
        if len(chunk) < query.limit:
            break
        offset += query.limit
    return rows[: query.limit]


def _moment(t: str | datetime) -> datetime:
    return t if isinstance(t, datetime) else datetime.fromisoformat(t)


def _run_fields(machine_id: int, benchmark: Benchmark, first: datetime, last: datetime) -> dict[int, tuple]:
    """{run id: (commit, model_version, config_hash)} of the series' runs started
    in [first, last] (an index-only read of run_series_points on PostgreSQL)."""
    runs = Run.objects.in_series().filter(
        machine_id=machine_id, benchmark=benchmark, started_at__gte=first, started_at__lte=last)
    return {run: fields for run, *fields in runs.values_list("id", "commit", "model_version", "config_hash")}


def _layer_op(
    machine_id: int, benchmark: Benchmark, layer: str, machine_name: str, query: PointsQuery | None
) -> str:
    """The op of the newest raw point of a layer in the asked range, else of its
    newest daily point there (any time when `query` is None: it has no points
    there); 404 if it never had any."""
    layers = LayerMeasurement.objects.in_series().filter(machine_id=machine_id, benchmark=benchmark, name=layer)
    days = DailyRollup.objects.filter(machine_id=machine_id, benchmark=benchmark, layer=layer)
    if query is not None:
        layers, days = _time_range(layers, query), _days_in_range(days, query)
    op = layers.order_by("-started_at", "-run_id").values_list("op", flat=True).first()
    if op is None:  # no raw row (in range): the newest day's
        op = days.order_by("-day").values_list("op", flat=True).first()
    if op is None:
        raise NotFound(
            f"No layer {layer!r} in benchmark {benchmark.pk} ({benchmark}) on machine {machine_name!r}; "
            f"see /api/v1/series/?machine={machine_name}&benchmark={benchmark.pk} for its layers."
        )
    return op


def _iso(moment: datetime) -> str:
    """As DRF writes datetimes: ISO 8601 with 'Z' for UTC."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
