"""Reading a run report off the wire: a size limit (413) checked on the
declared Content-Length and again on the bytes read, and the API's JSON parser
(core.json_body) keeping NaN/Infinity literals as markers so validation can
name their field."""
from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError

from core.errors import PayloadTooLarge
from core.json_body import JSONBodyParser
from results.strict_fields import NonFiniteLiteral


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


class ReportJSONParser(JSONBodyParser):
    """JSON bodies up to ROOFWATCH_MAX_REPORT_BYTES."""

    parse_constant = NonFiniteLiteral

    def read(self, stream) -> bytes:
        limit = settings.ROOFWATCH_MAX_REPORT_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise _too_large()
        return raw
