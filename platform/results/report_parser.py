"""Reading a run report off the wire: a size limit (413) checked on the
declared Content-Length and again on the bytes read, and a JSON parser that
keeps NaN/Infinity literals as markers so validation can name their field."""
from __future__ import annotations

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.errors import PayloadTooLarge
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


class ReportJSONParser(JSONParser):
    """JSON bodies up to ROOFWATCH_MAX_REPORT_BYTES; malformed JSON is a 400 that
    says where it broke."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.ROOFWATCH_MAX_REPORT_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise _too_large()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(raw.decode(encoding), parse_constant=NonFiniteLiteral)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            raise ParseError(f"Malformed JSON: {exc}") from None
