"""Reading run reports off the wire: a size limit (413) checked on the
declared Content-Length and again on the bytes read, then one msgspec pass
from the bytes to the validated Structs (results.report_schema).

A body msgspec refuses is explained by results.report_errors: a 400 whose
`errors` name every bad field by path, or whose `detail` names what keeps
the body from being JSON at all.
"""
from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

import msgspec
from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser

from core.errors import PayloadTooLarge
from results.report_errors import parse_leniently, report_errors
from results.report_schema import (
    BATCH_DECODER, MAX_BATCH_REPORTS, NUL_ESCAPE, REPORT_DECODER, RawBatch, Report, report_problems,
)


def _too_large(declared: int | None = None) -> PayloadTooLarge:
    limit = settings.ROOFWATCH_MAX_REPORT_BYTES
    body = "Request body" if declared is None else f"Request body of {declared} bytes"
    return PayloadTooLarge(f"{body} exceeds the limit of {limit} bytes (ROOFWATCH_MAX_REPORT_BYTES).")


def check_content_length(meta: dict) -> None:
    """Refuse a body whose declared length is over the limit, before reading it."""
    raw = meta.get("CONTENT_LENGTH") or "0"
    try:
        declared = int(raw)
    except ValueError:
        raise ParseError(f"Content-Length {raw!r} is not an integer.") from None
    if declared > settings.ROOFWATCH_MAX_REPORT_BYTES:
        raise _too_large(declared)


class ReportBodyParser(BaseParser):
    """A JSON body up to ROOFWATCH_MAX_REPORT_BYTES, as its UTF-8 bytes:
    the views decode it (decode_report, decode_batch)."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        limit = settings.ROOFWATCH_MAX_REPORT_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise _too_large()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        if encoding.lower().replace("-", "") != "utf8":
            raw = _as_utf8(raw, encoding)
        return raw


def _as_utf8(raw: bytes, encoding: str) -> bytes:
    try:
        return raw.decode(encoding).encode("utf-8", "surrogatepass")
    except LookupError:
        raise ParseError(f"Unknown charset {encoding!r}; send JSON as UTF-8.") from None
    except UnicodeDecodeError as exc:
        raise ParseError(f"The body is not valid {encoding}: {exc.reason} at byte {exc.start}.") from None


def as_body(data: bytes | Any) -> bytes:
    """A request body's bytes as they are; a report already in Python values
    (in-process callers: tests, the demo) as the JSON an agent would send,
    NaN and Infinity literals included, so they are refused like on the wire."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    return json.dumps(data, allow_nan=True).encode()


def decode_report(raw: bytes) -> Report:
    """The validated report (started_at and commit_time aware datetimes), or
    ValidationError naming every bad field, or ParseError when the body is no JSON."""
    try:
        report = REPORT_DECODER.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise ValidationError(explained(raw, Report)) from None
    if NUL_ESCAPE in raw and (problems := report_errors(parse_leniently(raw), Report)):
        raise ValidationError(problems)  # a NUL in some string (or just a "\\u0000" in one)
    if problems := report_problems(report):
        raise ValidationError(problems)
    moments_in_utc(report)
    return report


def moments_in_utc(report: Any) -> None:
    """Put a decoded report's started_at and source.commit_time in UTC (see
    _in_utc; run and sweep reports both carry them); raises ValidationError
    naming a moment that cannot be."""
    moments = {"started_at": _in_utc(report.started_at)}
    if report.source.commit_time is not None:
        moments["source.commit_time"] = _in_utc(report.source.commit_time)
    if problems := {path: [message] for path, message in moments.items() if isinstance(message, str)}:
        raise ValidationError(problems)
    report.started_at = moments["started_at"]
    if report.source.commit_time is not None:
        report.source.commit_time = moments["source.commit_time"]


def decode_batch(raw: bytes) -> list[bytes]:
    """Each report of a batch body {"reports": [...]} as its own bytes, to be
    decoded on its own; ValidationError or ParseError about the envelope."""
    try:
        return [bytes(item) for item in BATCH_DECODER.decode(raw).reports]
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        pass
    value = parse_leniently(raw)  # ParseError: the body is no JSON
    if isinstance(value, Mapping) and isinstance(value.get("reports"), list):
        if len(value["reports"]) > MAX_BATCH_REPORTS:
            raise ValidationError({"reports": [
                f"At most {MAX_BATCH_REPORTS} reports per batch, got {len(value['reports'])}; split the upload."
            ]})
        if set(value) == {"reports"} and value["reports"]:
            # A sound envelope msgspec refused for what an item holds (NaN, lone
            # surrogates): each item as JSON again, to be refused on its own.
            return [as_body(item) for item in value["reports"]]
    raise ValidationError(report_errors(value, RawBatch))


def explained(raw: bytes, struct: type[msgspec.Struct]) -> dict[str, list[str]]:
    """Every problem of a body msgspec refused (a run report or a sweep report);
    ParseError first when it is no JSON."""
    problems = report_errors(parse_leniently(raw), struct)
    return problems or {"non_field_errors": ["Invalid report."]}


def _in_utc(moment: datetime.datetime) -> datetime.datetime | str:
    """The moment in UTC (one without an offset is taken as UTC: the report's
    times are), or why it cannot be stored: PostgreSQL keeps offsets within
    15:59 hours, so every moment is stored in UTC, which must stay within the
    years 1 to 9999."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    try:
        return moment.astimezone(datetime.timezone.utc)
    except OverflowError:
        return f"Expected a moment within the years 1 to 9999 in UTC, got {moment.isoformat()}."
