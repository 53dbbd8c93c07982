"""How long a server asked us to wait: the Retry-After header of a 429 or
503 answer (RFC 9110: delay-seconds or an HTTP-date). Shared by the jobs
client and the upload client, so both honour it the same way."""
from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import requests

RETRY_AFTER_MAX = 3600.0  # a server's wish beyond an hour is a misconfiguration, not a plan


def retry_after_seconds(response: requests.Response | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait before the next request, or None when the answer asks
    for nothing (another status, no header, or one that does not parse)."""
    if response is None or response.status_code not in (429, 503):
        return None
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)
