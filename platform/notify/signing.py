"""HMAC-SHA256 signatures, in and out.

GitHub signs the raw body: `X-Hub-Signature-256: sha256=<hex>`.
roofwatch's own scheme (the generic CI hook in, generic alert webhooks out)
signs `<timestamp>.<body>`: `X-Roofwatch-Signature: sha256=<hex>` with the
Unix time in `X-Roofwatch-Timestamp`, so a captured request cannot be replayed
after REPLAY_WINDOW_SECONDS.
"""
from __future__ import annotations

import hashlib
import hmac
import time

REPLAY_WINDOW_SECONDS = 300
PREFIX = "sha256="


def github_signature(secret: str, body: bytes) -> str:
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def roofwatch_signature(secret: str, timestamp: str, body: bytes) -> str:
    return PREFIX + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.strip().encode())


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The timestamp and signature headers of a roofwatch-signed body."""
    timestamp = str(int(time.time() if now is None else now))
    return {"X-Roofwatch-Timestamp": timestamp, "X-Roofwatch-Signature": roofwatch_signature(secret, timestamp, body)}


def timestamp_problem(timestamp: str | None, now: float | None = None) -> str | None:
    """Why `timestamp` is not acceptable, or None when it is recent enough."""
    if not timestamp:
        return "X-Roofwatch-Timestamp is missing (expected the Unix time in seconds)."
    try:
        sent = int(timestamp)
    except ValueError:
        return f"X-Roofwatch-Timestamp {timestamp[:40]!r} is not a whole number of seconds."
    skew = abs((time.time() if now is None else now) - sent)
    if skew > REPLAY_WINDOW_SECONDS:
        return (f"X-Roofwatch-Timestamp is {skew:.0f} s away from the server's clock "
                f"(at most {REPLAY_WINDOW_SECONDS} s): a replay, or a clock to fix.")
    return None
