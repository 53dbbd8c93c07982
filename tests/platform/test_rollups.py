"""Daily rollups (results.rollups): the numbers against hand-computed ones,
idempotent, incremental, and final once their day is sealed. On SQLite the
rollups are computed in Python, on PostgreSQL in SQL (percentile_cont)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from engine.report import PURPOSE_BISECT
from fleet.models import Machine
from results.ingest import ingest_report
from results.models import DailyRollup, LayerMeasurement, RollupDay, Run
from results.rollups import percentile, raw_window_start, roll_up_day, roll_up_pending, seal_day
from tests.report_factory import make_report

pytestmark = pytest.mark.django_db

DAY = date(2025, 3, 4)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


def store(machine: Machine, when: datetime, medians: dict[str, float], mins: dict[str, float] | None = None,
          **report) -> Run:
    """A 2-layer run (fc0, relu0) whose layer medians (and mins) are set by hand."""
    run = ingest_report(make_report(layers=2, started_at=when, **report), machine)[0]
    for name, median in medians.items():
        least = (mins or {}).get(name, median * 0.9)
        LayerMeasurement.objects.filter(run=run, name=name).update(median=median, min=least)
    return run


def rollup(layer: str, day: date = DAY, machine: str = "m1") -> tuple:
    return DailyRollup.objects.filter(layer=layer, day=day, machine__name=machine).values_list(
        "median", "p25", "p75", "min", "n", "first", "last", "op").get()


@pytest.fixture
def machine() -> Machine:
    return Machine.objects.create(name="m1")


@pytest.fixture
def day_of_runs(machine) -> list[Run]:
    """Four runs on DAY with fc0 medians 1, 2, 3, 10 (given out of order), a bisect run that day
    (in no series), and runs the days before and after."""
    runs = [
        store(machine, at(DAY, 9), {"fc0": 3.0}, {"fc0": 2.5}),
        store(machine, at(DAY, 1), {"fc0": 10.0}, {"fc0": 0.8}),
        store(machine, at(DAY, 23), {"fc0": 1.0}, {"fc0": 0.9}),
        store(machine, at(DAY, 12), {"fc0": 2.0}, {"fc0": 1.5}),
    ]
    store(machine, at(DAY, 13), {"fc0": 100.0}, {"fc0": 0.01}, purpose=PURPOSE_BISECT)
    store(machine, at(DAY - timedelta(days=1), 12), {"fc0": 50.0})
    store(machine, at(DAY + timedelta(days=1), 0), {"fc0": 60.0})
    return runs


def test_percentile_interpolates_as_percentile_cont():
    assert percentile([1.0, 2.0, 3.0, 10.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 10.0], 0.25) == 1.75  # position 0.75: 1 + 0.75 * (2 - 1)
    assert percentile([1.0, 2.0, 3.0, 10.0], 0.75) == 4.75  # position 2.25: 3 + 0.25 * (10 - 3)
    assert percentile([7.0], 0.25) == 7.0


def test_a_day_rolls_up_to_hand_computed_numbers(day_of_runs):
    assert roll_up_day(DAY) == 2  # fc0 and relu0 of m1

    median, p25, p75, least, n, first, last, op = rollup("fc0")
    assert (median, p25, p75) == pytest.approx((2.5, 1.75, 4.75))
    assert least == 0.8  # the fastest repeat of the day; the bisect run's 0.01 is in no series
    assert n == 4
    assert (first, last) == (at(DAY, 1), at(DAY, 23))
    assert op == "Linear"
    assert rollup("relu0")[4] == 4
    assert not DailyRollup.objects.exclude(day=DAY).exists()  # only the day asked for
    record = RollupDay.objects.get(day=DAY)
    assert record.series == 2 and record.sealed_at is None


def test_rolling_a_day_up_again_replaces_it(day_of_runs):
    roll_up_day(DAY)
    before = rollup("fc0")
    assert roll_up_day(DAY) == 2
    assert rollup("fc0") == before and DailyRollup.objects.count() == 2  # same rows, no duplicates

    LayerMeasurement.objects.filter(run=day_of_runs[1], name="fc0").update(median=4.0)  # 10 -> 4
    roll_up_day(DAY)
    assert rollup("fc0")[:3] == pytest.approx((2.5, 1.75, 3.25))  # medians 1, 2, 3, 4


def test_rolling_an_unsealed_day_up_again_drops_the_series_whose_runs_are_gone(day_of_runs):
    late = Machine.objects.create(name="m2")
    run = store(late, at(DAY, 15), {"fc0": 7.0}, fingerprint="fp-late")
    assert roll_up_day(DAY) == 4  # fc0 and relu0 of m1 and of m2
    run.delete()
    assert roll_up_day(DAY) == 2
    assert not DailyRollup.objects.filter(machine=late).exists()
    assert DailyRollup.objects.count() == 2


def test_a_sealed_day_keeps_its_rollups_when_its_rows_are_gone(day_of_runs, db):
    assert seal_day(DAY) == 2
    sealed = rollup("fc0")
    LayerMeasurement.objects.filter(started_at__gte=at(DAY, 0), started_at__lt=at(DAY, 12)).delete()  # a partial delete

    assert roll_up_day(DAY) == 0
    assert rollup("fc0") == sealed  # not replaced by what was left
    assert seal_day(DAY) == 0  # already sealed: nothing to do

    # A late upload from another machine for that day adds its series, changing none.
    late = Machine.objects.create(name="m2")
    store(late, at(DAY, 15), {"fc0": 7.0}, fingerprint="fp-late")
    assert roll_up_day(DAY) == 2
    assert rollup("fc0", machine="m2")[:5] == pytest.approx((7.0, 7.0, 7.0, 6.3, 1))
    assert rollup("fc0") == sealed


def test_the_raw_window_starts_after_the_last_sealed_day(day_of_runs):
    assert raw_window_start() is None
    roll_up_day(DAY)
    assert raw_window_start() is None  # rolled up, not sealed
    seal_day(DAY - timedelta(days=1))
    seal_day(DAY)
    assert raw_window_start() == at(DAY + timedelta(days=1), 0)


def test_pending_days_are_rolled_up_once_gaps_included_today_never(day_of_runs):
    now = at(DAY + timedelta(days=3), 6)
    assert roll_up_pending(now) == [DAY - timedelta(days=1), DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    assert rollup("fc0")[4] == 4
    assert roll_up_pending(now) == []

    RollupDay.objects.filter(day=DAY).delete()  # a gap
    DailyRollup.objects.filter(day=DAY).delete()
    assert roll_up_pending(now + timedelta(days=1)) == [DAY, DAY + timedelta(days=3)]
    assert rollup("fc0")[4] == 4
