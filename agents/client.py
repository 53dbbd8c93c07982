"""Uploading spooled run reports to the platform's ingest API.

`upload` sends one report and says what the answer means for the spooled
file; `flush` walks the spool oldest first, retrying with exponential
backoff and full jitter, and removes a file only after the server answered
200/201 for it. Re-sending is always safe: the server deduplicates on the
report's idempotency_key, so a report whose 201 got lost is stored once.

The queue always moves: a report the agent cannot read, or one the server
answered with an error of its own (a 5xx other than 503) `quarantine_after`
times, counted across flushes in its meta, goes to the spool's quarantine/
and the flush goes on with the next. No answer, 429 and 503 say nothing
about the report (the server is down or busy) and never count.
"""
from __future__ import annotations

import enum
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urljoin

import requests

from engine.sweep.report import SWEEP_SCHEMA

from . import LOGGER_NAME
from .http_retry import retry_after_seconds
from .spool import QUARANTINE_AFTER, Spool, SpoolError

log = logging.getLogger(LOGGER_NAME)

INGEST_PATH = "/api/v1/runs/"
SWEEP_INGEST_PATH = "/api/v1/sweeps/"  # a sweep report (schema engine.sweep.report.SWEEP_SCHEMA)
REPORT_RUN, REPORT_SWEEP = "run", "sweep"
DEFAULT_TIMEOUT = 30.0
_NOT_THE_REPORTS_FAULT = (429, 503)
_MESSAGE_LIMIT = 1000


class Outcome(enum.Enum):
    ACKED = "acked"  # stored (201) or already stored (200): remove the file
    REJECTED = "rejected"  # the report itself is bad: move it aside, go on
    AUTH_FAILED = "auth_failed"  # keep the file, stop: no upload can succeed
    MISCONFIGURED = "misconfigured"  # keep the file, stop: not a roofwatch server, or a redirect
    RETRY = "retry"  # keep the file, try again later

    @property
    def stops_flush(self) -> bool:
        return self in (Outcome.AUTH_FAILED, Outcome.MISCONFIGURED)


@dataclass(frozen=True)
class UploadResult:
    outcome: Outcome
    message: str
    status: int | None = None  # HTTP status; None when no answer came
    run_id: int | None = None
    url: str | None = None  # absolute URL of the run's page
    retry_after: float | None = None  # seconds the server asked us to wait (Retry-After of a 429/503)
    kind: str = REPORT_RUN  # what was uploaded: a run report, or a sweep report (run_id is then the sweep's id)


def report_kind(body: bytes) -> str:
    """REPORT_SWEEP for a sweep report, else REPORT_RUN (a body that is no JSON
    object goes to the runs endpoint, which answers why it is refused)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return REPORT_RUN
    schema = doc.get("schema") if isinstance(doc, dict) else None
    return REPORT_SWEEP if schema == SWEEP_SCHEMA else REPORT_RUN


def ingest_url(server: str, kind: str = REPORT_RUN) -> str:
    return server.rstrip("/") + (SWEEP_INGEST_PATH if kind == REPORT_SWEEP else INGEST_PATH)


def upload(
    server: str,
    token: str,
    body: bytes,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    session: requests.Session | None = None,
) -> UploadResult:
    """POST one report to `server`'s ingest endpoint for its kind (runs or
    sweeps: the same answers, idempotency and retries) and classify the answer."""
    kind = report_kind(body)
    url = ingest_url(server, kind)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    post = session.post if session is not None else requests.post
    try:
        resp = post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        return UploadResult(Outcome.RETRY, f"no answer from {url} within {timeout:g} s")
    except requests.ConnectionError as e:
        return UploadResult(Outcome.RETRY, f"cannot connect to {url}: {_reason(e)}")
    except requests.RequestException as e:
        return UploadResult(Outcome.MISCONFIGURED, f"cannot send to {url}: {e}")
    return replace(classify(server, resp, kind), kind=kind)


def classify(server: str, resp: requests.Response, kind: str = REPORT_RUN) -> UploadResult:
    status = resp.status_code
    detail = _server_message(resp)
    if status in (200, 201):
        payload = _json(resp)
        run_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(run_id, int) or isinstance(run_id, bool):
            return UploadResult(
                Outcome.MISCONFIGURED,
                f"{resp.url} answered HTTP {status} without a run id; is {server} a roofwatch server? ({detail})",
                status,
            )
        page = payload.get("url") or f"/{kind}s/{run_id}/"
        return UploadResult(Outcome.ACKED, f"HTTP {status}", status, run_id, urljoin(server.rstrip("/") + "/", page))
    if status in (400, 409, 413, 422):
        return UploadResult(Outcome.REJECTED, f"HTTP {status}: {detail}", status)
    if status == 401:
        return UploadResult(
            Outcome.AUTH_FAILED,
            f"HTTP 401 from {server}: the agent token is wrong or was revoked; "
            f"get a new one from the platform's admin for this machine ({detail})",
            status,
        )
    if status == 403:
        return UploadResult(
            Outcome.AUTH_FAILED,
            f"HTTP 403 from {server}: the agent token belongs to another machine than the one "
            f"in this report; use this machine's own token ({detail})",
            status,
        )
    if status == 429 or status >= 500:
        return UploadResult(Outcome.RETRY, f"HTTP {status} from {server}: {detail}", status,
                            retry_after=retry_after_seconds(resp))
    if 300 <= status < 400:
        where = resp.headers.get("Location", "?")
        return UploadResult(
            Outcome.MISCONFIGURED,
            f"HTTP {status} from {resp.url}: redirected to {where}; give the final server URL as --server",
            status,
        )
    return UploadResult(
        Outcome.MISCONFIGURED,
        f"HTTP {status} from {resp.url}: not the answer of a roofwatch ingest endpoint; check --server ({detail})",
        status,
    )


@dataclass(frozen=True)
class Uploaded:
    key: str
    run_id: int
    url: str
    created: bool  # False: the server already had it (a replay)


@dataclass
class FlushSummary:
    uploaded: list[Uploaded] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)  # (new path, message)
    quarantined: list[tuple[Path, str]] = field(default_factory=list)  # (new path, reason)
    remaining: int = 0
    last_error: str | None = None
    attempts: int = 0  # HTTP requests tried, all files together
    stopped: Outcome | None = None  # why the flush ended early, if it did

    @property
    def ok(self) -> bool:
        return self.remaining == 0 and not self.rejected and not self.quarantined


def backoff_delay(retry: int, base_delay: float, max_delay: float, rand: Callable[[], float] = random.random) -> float:
    """Full jitter: uniform in [0, min(max_delay, base_delay * 2**retry)), retry counting from 0."""
    return rand() * min(max_delay, base_delay * (2**retry))


def counts_against_report(result: UploadResult) -> bool:
    """A retryable failure the server answered itself: it may be this report's doing."""
    return result.outcome is Outcome.RETRY and result.status is not None \
        and result.status not in _NOT_THE_REPORTS_FAULT


def flush(
    spool: Spool,
    server: str,
    token: str,
    *,
    max_attempts: int = 5,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
    timeout: float = DEFAULT_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    quarantine_after: int = QUARANTINE_AFTER,
    on_acked: Callable[[Path, UploadResult], None] | None = None,
    on_rejected: Callable[[Path, str], None] | None = None,
    on_quarantined: Callable[[Path, str], None] | None = None,
) -> FlushSummary:
    """Upload the pending reports oldest first. A file that still gets a
    retryable failure after `max_attempts` tries ends the flush (the server is
    down; the rest would fail too and order is kept) unless it reached
    `quarantine_after` counted failures: then it is quarantined and the flush
    goes on. An auth or configuration failure ends it at once. Returns what happened."""
    if max_attempts < 1 or quarantine_after < 1:
        raise ValueError(f"max_attempts, quarantine_after: expected at least 1, got {max_attempts}, "
                         f"{quarantine_after}")
    summary = FlushSummary()
    retry = _Retry(max_attempts, base_delay, max_delay, timeout, sleep, rand, quarantine_after)
    with requests.Session() as session:
        for path in spool.pending():
            try:
                body = path.read_bytes()
            except FileNotFoundError:
                continue  # acked by a concurrent flush
            except OSError as e:
                _quarantine(spool, path, f"unreadable: {e.strerror or e}", summary, on_quarantined)
                continue
            result, failures = _upload_with_retries(session, spool, path, body, server, token, summary, retry)
            if failures >= quarantine_after:
                reason = f"{server}: {failures} failed uploads, the last: {result.message}"
                _quarantine(spool, path, reason, summary, on_quarantined)
            elif not _settle(spool, path, server, result, summary, on_acked, on_rejected):
                break
    summary.remaining = len(spool.pending())
    return summary


@dataclass(frozen=True)
class _Retry:
    max_attempts: int
    base_delay: float
    max_delay: float
    timeout: float
    sleep: Callable[[float], None]
    rand: Callable[[], float]
    quarantine_after: int


def _settle(spool: Spool, path: Path, server: str, result: UploadResult, summary: FlushSummary,
            on_acked: Callable[[Path, UploadResult], None] | None,
            on_rejected: Callable[[Path, str], None] | None) -> bool:
    """Act on one report's final answer; False: stop the flush."""
    key = Spool.key_of(path)
    if result.outcome is Outcome.ACKED:
        if on_acked is not None:  # before the ack: a crash in between replays the upload
            on_acked(path, result)
        spool.ack(path)
        assert result.run_id is not None and result.url is not None
        summary.uploaded.append(Uploaded(key, result.run_id, result.url, result.status == 201))
        log.info("uploaded %s to %s: run %s", key, server, result.url)
    elif result.outcome is Outcome.REJECTED:
        summary.last_error = result.message
        if on_rejected is not None:
            on_rejected(path, result.message)
        dest = spool.reject(path, f"{server}: {result.message}")
        summary.rejected.append((dest, result.message))
        log.error("server %s rejected report %s: %s; moved to %s", server, key, result.message, dest)
    else:
        summary.last_error = result.message
        summary.stopped = result.outcome
        if result.outcome is Outcome.RETRY:
            log.warning("giving up on %s for now: %s; pending reports stay in %s",
                        server, result.message, spool.path)
        else:
            log.error("stopping upload to %s: %s", server, result.message)
        return False
    return True


def _quarantine(spool: Spool, path: Path, reason: str, summary: FlushSummary,
                on_quarantined: Callable[[Path, str], None] | None) -> None:
    """Set a report aside so the queue moves on; a failed move is logged and skipped, never raised."""
    summary.last_error = f"{Spool.key_of(path)}: {reason}"
    try:
        if on_quarantined is not None:
            on_quarantined(path, reason)
        dest = spool.quarantine(path, reason)
    except SpoolError as e:
        log.error("event=quarantine_failed path=%s reason=%r error=%r", path, reason, str(e))
        return
    summary.quarantined.append((dest, reason))
    log.error("event=report_quarantined key=%s reason=%r path=%s", Spool.key_of(path), reason, dest)


def _upload_with_retries(session: requests.Session, spool: Spool, path: Path, body: bytes, server: str,
                         token: str, summary: FlushSummary, retry: _Retry) -> tuple[UploadResult, int]:
    """The last answer, and the report's counted failures so far (0 if none this time)."""
    key, failures = Spool.key_of(path), 0
    for attempt in range(1, retry.max_attempts + 1):
        summary.attempts += 1
        result = upload(server, token, body, retry.timeout, session=session)
        if result.outcome is not Outcome.RETRY:
            return result, 0
        summary.last_error = result.message
        if counts_against_report(result):
            failures = spool.record_failure(path, result.message)
            if failures >= retry.quarantine_after:
                break
        if attempt == retry.max_attempts:
            break
        delay = max(backoff_delay(attempt - 1, retry.base_delay, retry.max_delay, retry.rand),
                    result.retry_after or 0.0)  # the server knows best when it is back
        log.warning(
            "upload of %s to %s failed (attempt %d/%d): %s; retrying in %.1f s",
            key, server, attempt, retry.max_attempts, result.message, delay,
        )
        retry.sleep(delay)
    return result, failures


def _json(resp: requests.Response) -> object:
    try:
        return resp.json()
    except ValueError:
        return None


def _server_message(resp: requests.Response) -> str:
    """The server's own words: `detail` plus field errors when it sent JSON,
    else the start of the body."""
    payload = _json(resp)
    if isinstance(payload, dict) and ("detail" in payload or "errors" in payload):
        parts = [str(payload["detail"])] if "detail" in payload else []
        errors = payload.get("errors")
        if isinstance(errors, dict) and errors:
            parts.append("; ".join(f"{k}: {_flat(v)}" for k, v in errors.items()))
        elif errors:
            parts.append(_flat(errors))
        text = " — ".join(parts)
    elif payload is not None:
        text = json.dumps(payload)
    else:
        text = resp.text.strip() or resp.reason or "(empty body)"
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "…"


def _flat(v: object) -> str:
    if isinstance(v, list):
        return ", ".join(_flat(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_flat(x)}" for k, x in v.items())
    return str(v)


def _reason(e: requests.ConnectionError) -> str:
    """The innermost cause ('Connection refused'), not urllib3's wrapper chain."""
    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        nxt = cause.__cause__ or cause.__context__
        if nxt is None and cause.args and isinstance(cause.args[0], BaseException):
            nxt = cause.args[0]
        cause = nxt
    return str(e)
