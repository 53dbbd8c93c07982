"""Query-string filters of the read API: exact matches and time ranges, with
400s that name the parameter and what it expected."""
from __future__ import annotations

from collections.abc import Mapping
import re
from datetime import datetime, time
from datetime import timezone as dt_timezone

from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.exceptions import ValidationError

from engine.report import PURPOSE_BISECT

ISO_EXAMPLE = "2025-01-31, 2025-01-31T12:00:00Z or 2025-01-31T12:00:00+02:00"
LEAP_SECOND = re.compile(r"(T\d\d:\d\d):60(\.\d+)?(?=\D|$)")
# A query parameter that takes a moment, in the OpenAPI schema: an RFC 3339 date-time or a date.
INSTANT_SCHEMA = {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}]}


def parse_instant(name: str, value: str) -> datetime:
    """An ISO 8601 datetime or date (midnight UTC) from query parameter `name`;
    without an offset it is UTC. A '+' of the offset that arrived unencoded
    (as a space) is put back. RFC 3339's lowercase t and z and its leap
    second (23:59:60, read as the minute's last microsecond) are taken too."""
    text = value.strip().upper()
    if "T" in text:
        text = text.replace(" ", "+")
    text = LEAP_SECOND.sub(r"\1:59.999999", text)
    try:
        parsed = parse_datetime(text)
        if parsed is None:
            day = parse_date(text)
            parsed = datetime.combine(day, time.min) if day else None
    except ValueError:  # well-formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        raise ValidationError({name: [f"Expected an ISO 8601 date or datetime such as {ISO_EXAMPLE}; got {value!r}."]})
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt_timezone.utc)
    try:
        return parsed.astimezone(dt_timezone.utc)  # the databases compare in UTC
    except OverflowError:  # before year 1 or after 9999 in UTC: as a range bound, the calendar's end
        end = datetime.min if parsed.year == 1 else datetime.max
        return end.replace(tzinfo=dt_timezone.utc)


def filter_exact(rows: QuerySet, params: Mapping[str, str], lookups: Mapping[str, str]) -> QuerySet:
    """Apply ?name=value for each {name: ORM lookup}; empty values are ignored."""
    for name, lookup in lookups.items():
        value = params.get(name)
        if value:
            rows = rows.filter(**{lookup: value})  # a NUL never gets here (core.middleware)
    return rows


def filter_time_range(rows: QuerySet, params: Mapping[str, str], field: str, after: str, before: str) -> QuerySet:
    """The half-open range ?<after>=T1&<before>=T2: T1 <= field < T2."""
    if after in params:
        rows = rows.filter(**{f"{field}__gte": parse_instant(after, params[after])})
    if before in params:
        rows = rows.filter(**{f"{field}__lt": parse_instant(before, params[before])})
    return rows


# ?purpose= of the run list: "series" (runs in their series), "bisect" (a bisection's runs) or "any".
RUN_PURPOSES = ("series", "bisect", "any")


def filter_purpose(runs: QuerySet, params: Mapping[str, str]) -> QuerySet:
    """Apply ?purpose=; without it, "any", except that the runs of a ?commit= are
    its series runs: a bisection's run at that commit must not gate it (ci-check)."""
    value = params.get("purpose") or ("series" if params.get("commit") else "any")
    if value not in RUN_PURPOSES:
        raise ValidationError({"purpose": [f"Expected one of {', '.join(RUN_PURPOSES)}; got {value!r}."]})
    if value == "series":
        return runs.in_series()
    return runs.filter(purpose=PURPOSE_BISECT) if value == "bisect" else runs
