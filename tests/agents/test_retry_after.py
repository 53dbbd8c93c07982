"""Retry-After (seconds or an HTTP date) on a 429/503 from the server is
honoured: the jobs client carries it, and the daemon waits at least that long."""
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests

from agents.config import load_config
from agents.daemon import Agent
from agents.http_retry import RETRY_AFTER_MAX, retry_after_seconds
from agents.jobs_client import JobsClient, Unreachable

from .conftest import write_agent_config

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def answer(status: int, retry_after: str | None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    if retry_after is not None:
        resp.headers["Retry-After"] = retry_after
    return resp


@pytest.mark.parametrize("status, header, seconds", [
    (503, "7", 7.0),
    (429, format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
    (503, format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),  # a date gone by: now
    (503, "99999999", RETRY_AFTER_MAX),
    (503, "soon", None),
    (503, None, None),
    (500, "7", None),  # only 429 and 503 ask for a pause
])
def test_retry_after_reads_seconds_and_http_dates(status, header, seconds):
    assert retry_after_seconds(answer(status, header), now=NOW) == seconds


def test_the_daemon_backs_off_at_least_as_long_as_the_server_asks(ingest, token, tmp_path):
    ingest.retry_after = "42"
    ingest.answer_next(503)
    with pytest.raises(Unreachable) as caught:
        JobsClient(ingest.url, token).claim(30)
    assert caught.value.retry_after == 42.0

    ingest.answer_next(503)
    cfg = write_agent_config(tmp_path / "agent.toml", ingest.url, tmp_path / "spool",
                             extra="[schedule]\npoll_seconds = 0.05\nmax_backoff_seconds = 1\n")
    agent = Agent(load_config(cfg))
    assert agent.claim() is None
    assert agent.idle_delay() == 42.0  # past max_backoff_seconds: the server knows when it is back
    assert agent.idle_delay() <= 1.0  # once: the next wait is the usual backoff
