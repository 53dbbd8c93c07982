"""Daily rollups of the layer series (results.models.DailyRollup): one row per
series and UTC day, kept for ever, so a series can be read years back after
retention has deleted its raw layer rows.

`roll_up_day` builds one whole past day: on PostgreSQL one INSERT ... SELECT
with percentile_cont, elsewhere (SQLite, the embedded default) the same
numbers computed in Python. Running it again for a day rebuilds that day's
rows (a series whose runs are gone since loses its row), except on a sealed
day (see RollupDay): its raw rows may be partly gone, so it only adds the
series the day had no row for.

`roll_up_pending` (beat, daily) rolls up every past day not rolled up yet,
gaps included. `seal_days_before` is retention's step before it deletes: each
day is rolled up once more from its complete raw rows and sealed in the same
transaction, oldest first, none skipped; `raw_window_start` is then where the
raw rows begin, and readers take the days before it from the rollups.
"""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone as django_timezone

from engine.report import PURPOSE_BISECT
from results.models import DailyRollup, LayerMeasurement, Run, RollupDay

VALUE_FIELDS = ("op", "index", "median", "p25", "p75", "min", "n", "first", "last", "flops", "bytes")


def midnight(day: date) -> datetime:
    """The start of UTC day `day`."""
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def utc_day(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


def last_sealed_day() -> QuerySet:
    """The last sealed day, as a one-value query (a Subquery for readers that
    fetch it along with something else)."""
    return RollupDay.objects.filter(sealed_at__isnull=False).order_by("-day").values("day")[:1]


def raw_window_start(last_sealed: date | None = None, *, fetch: bool = True) -> datetime | None:
    """Where raw layer rows begin: midnight after the last sealed day (None:
    no day is sealed, every raw row there ever was is still there). Days
    before it are read from the rollups. Pass `last_sealed` with fetch=False
    when it was read already."""
    if fetch:
        last_sealed = last_sealed_day().values_list("day", flat=True).first()
    return None if last_sealed is None else midnight(last_sealed + timedelta(days=1))


def roll_up_day(day: date) -> int:
    """Build the rollups of UTC day `day` from its raw layer rows (replacing the
    day's rows, or on a sealed day adding only missing series); returns how
    many rows were written."""
    with transaction.atomic():
        record = _locked(day)
        written = _build(day, replace=record.sealed_at is None)
        record.rolled_at, record.series = django_timezone.now(), written
        record.save(update_fields=["rolled_at", "series"])
    return written


def seal_day(day: date) -> int:
    """Roll up `day` from its complete raw rows and seal it, in one transaction:
    from the commit on, its raw rows may be deleted. A day already sealed is
    left as it is. Returns the rows written."""
    with transaction.atomic():
        record = _locked(day)
        if record.sealed_at is not None:
            return 0
        written = _build(day, replace=True)
        record.rolled_at = record.sealed_at = django_timezone.now()
        record.series = written
        record.save(update_fields=["rolled_at", "sealed_at", "series"])
    return written


def days_since_first_run(until: date) -> list[date]:
    """Every UTC day from the oldest run's up to (not including) `until`."""
    oldest = Run.objects.order_by("started_at").values_list("started_at", flat=True).first()
    if oldest is None:
        return []
    first = utc_day(oldest)
    return [first + timedelta(days=i) for i in range((until - first).days)]


def roll_up_pending(now: datetime | None = None) -> list[date]:
    """Roll up every whole past day (before today, UTC) not rolled up yet:
    yesterday, and any day a missed beat left out. Returns the days rolled up."""
    today = utc_day(now or django_timezone.now())
    days = days_since_first_run(today)
    done = set(RollupDay.objects.filter(day__gte=days[0]).values_list("day", flat=True)) if days else set()
    pending = [day for day in days if day not in done]
    for day in pending:
        roll_up_day(day)
    return pending


def seal_days_before(cutoff: date) -> list[date]:
    """Seal every day before `cutoff` not sealed yet, oldest first (see
    seal_day); returns the days sealed now."""
    sealed = set(RollupDay.objects.filter(sealed_at__isnull=False).values_list("day", flat=True))
    pending = [day for day in days_since_first_run(cutoff) if day not in sealed]
    for day in pending:
        seal_day(day)
    return pending


def unsealed_days_before(cutoff: date) -> list[date]:
    """The days before `cutoff` (since the oldest run) that are not sealed:
    their raw rows must not be deleted."""
    sealed = set(RollupDay.objects.filter(sealed_at__isnull=False, day__lt=cutoff).values_list("day", flat=True))
    return [day for day in days_since_first_run(cutoff) if day not in sealed]


def _locked(day: date) -> RollupDay:
    """The day's record, created if new, locked until the transaction ends, so a
    roll-up and the seal of the same day never interleave (PostgreSQL row lock;
    SQLite serialises writers anyway)."""
    RollupDay.objects.get_or_create(day=day, defaults={"rolled_at": django_timezone.now(), "series": 0})
    return RollupDay.objects.select_for_update().get(day=day)


def _build(day: date, replace: bool) -> int:
    """Add the day's missing rollup rows; `replace`: the day's raw rows are
    whole, so its rollups are rebuilt from them (a series whose runs that day
    were all deleted since loses its row)."""
    if replace:
        DailyRollup.objects.filter(day=day).delete()
    if connection.vendor == "postgresql":
        return _build_in_sql(day)
    return _build_in_python(day)


def _build_in_sql(day: date) -> int:
    """One INSERT ... SELECT over the day's in-series runs (found through the
    run index run_newest, then their layers by run) and their layer rows (the
    layer's own started_at too, so a partitioned table reads one partition)."""
    q = connection.ops.quote_name
    rollups, layers, runs = (q(m._meta.db_table) for m in (DailyRollup, LayerMeasurement, Run))
    columns = ", ".join(q(c) for c in ("machine_id", "benchmark_id", "layer", "day", *VALUE_FIELDS))
    start, end = midnight(day), midnight(day + timedelta(days=1))
    sql = f"""
        INSERT INTO {rollups} ({columns})
        SELECT l.machine_id, l.benchmark_id, l.name, %s::date, max(l.op), min(l.{q("index")}),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY l.median),
               percentile_cont(0.25) WITHIN GROUP (ORDER BY l.median),
               percentile_cont(0.75) WITHIN GROUP (ORDER BY l.median),
               min(l.min), count(*), min(l.started_at), max(l.started_at), max(l.flops), max(l.bytes)
        FROM {runs} r JOIN {layers} l ON l.run_id = r.id
        WHERE r.started_at >= %s AND r.started_at < %s AND r.purpose <> %s
          AND l.started_at >= %s AND l.started_at < %s
        GROUP BY l.machine_id, l.benchmark_id, l.name
        ORDER BY 1, 2, 3
        ON CONFLICT (machine_id, benchmark_id, layer, day) DO NOTHING
    """
    with connection.cursor() as cursor:
        # A day is 1/30 of its month's partition, yet PostgreSQL 15 picks a
        # sequential scan of the whole month (it costs the BRIN scan on
        # started_at like one): at fleet scale ~870 M rows read for each day.
        # Without it, the day's runs come through run_newest and their rows by
        # the layers' (run, index, started_at) key, or through the BRIN index
        # (a time-ordered month of 8.2 M rows: 330-355 ms against 650-765 ms).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(sql, [day, start, end, PURPOSE_BISECT, start, end])
        rows = cursor.rowcount
        cursor.execute("SET LOCAL enable_seqscan = on")
        return rows


def percentile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values, interpolated linearly between the two
    nearest (as PostgreSQL's percentile_cont and numpy's default)."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _build_in_python(day: date) -> int:
    """The same rows as _build_in_sql, computed here (SQLite has no percentile_cont)."""
    start, end = midnight(day), midnight(day + timedelta(days=1))
    rows = (
        LayerMeasurement.objects.in_series().filter(started_at__gte=start, started_at__lt=end).order_by()
        .values_list("machine_id", "benchmark_id", "name", "op", "index", "median", "min", "started_at", "flops",
                     "bytes")
    )
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for machine_id, benchmark_id, name, *values in rows:
        groups[(machine_id, benchmark_id, name)].append(values)
    built = []
    for (machine_id, benchmark_id, name), values in sorted(groups.items()):
        ops, indexes, medians, mins, times, flops, nbytes = zip(*values)
        medians = sorted(medians)
        built.append(DailyRollup(
            machine_id=machine_id, benchmark_id=benchmark_id, layer=name, day=day, op=max(ops), index=min(indexes),
            median=percentile(medians, 0.5), p25=percentile(medians, 0.25), p75=percentile(medians, 0.75),
            min=min(mins), n=len(medians), first=min(times), last=max(times),
            # as SQL's max(): nulls (work unknown) ignored, null when all are
            flops=max((f for f in flops if f is not None), default=None),
            bytes=max((b for b in nbytes if b is not None), default=None),
        ))
    have = set(DailyRollup.objects.filter(day=day).values_list("machine_id", "benchmark_id", "layer"))
    built = [r for r in built if (r.machine_id, r.benchmark_id, r.layer) not in have]
    DailyRollup.objects.bulk_create(built)
    return len(built)
