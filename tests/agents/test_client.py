import json
import logging

import pytest

from agents.client import Outcome, backoff_delay, flush, upload
from agents.spool import Spool

from .conftest import make_report
from .ingest_server import OTHER_MACHINE_TOKEN, RUNS_PATH


class Sleeps(list):
    """Records backoff delays instead of sleeping them."""

    def __call__(self, seconds):
        self.append(seconds)


def test_upload_of_a_new_report_is_acked_with_the_run_and_its_page(ingest, token):
    result = upload(ingest.url, token, make_report("k1").encode(), timeout=5)
    assert result.outcome is Outcome.ACKED
    assert (result.status, result.run_id) == (201, 1)
    assert result.url == f"{ingest.url}/runs/1/"
    assert ingest.requests[0][:2] == (RUNS_PATH, f"Token {token}")


def test_a_replay_is_acked_with_the_same_run_and_stored_once(ingest, token):
    body = make_report("k1").encode()
    first = upload(ingest.url + "/", token, body, timeout=5)
    again = upload(ingest.url, token, body, timeout=5)
    assert again.outcome is Outcome.ACKED
    assert (again.status, again.run_id) == (200, first.run_id)
    assert len(ingest.runs) == 1


@pytest.mark.parametrize("status", [400, 409, 413, 422])
def test_permanent_refusals_are_rejections_that_keep_the_servers_message(ingest, token, status):
    ingest.answer_next(status, body={"detail": "Invalid run report.", "errors": {"layers": ["expected a list"]}})
    result = upload(ingest.url, token, b"{}", timeout=5)
    assert result.outcome is Outcome.REJECTED
    assert result.status == status
    assert "Invalid run report." in result.message and "layers: expected a list" in result.message


def test_a_wrong_token_is_an_auth_failure_saying_so(ingest):
    result = upload(ingest.url, "rw_revoked", make_report().encode(), timeout=5)
    assert result.outcome is Outcome.AUTH_FAILED and result.outcome.stops_flush
    assert result.status == 401
    assert "wrong or was revoked" in result.message and "Invalid token." in result.message


def test_another_machines_token_is_an_auth_failure_saying_so(ingest):
    result = upload(ingest.url, OTHER_MACHINE_TOKEN, make_report().encode(), timeout=5)
    assert result.outcome is Outcome.AUTH_FAILED
    assert result.status == 403
    assert "another machine" in result.message


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_overload_and_server_errors_are_retried(ingest, token, status):
    ingest.answer_next(status)
    result = upload(ingest.url, token, make_report().encode(), timeout=5)
    assert result.outcome is Outcome.RETRY
    assert f"HTTP {status}" in result.message and ingest.url in result.message


def test_a_refused_connection_is_retried_and_says_where(dead_server_url, token):
    result = upload(dead_server_url, token, b"{}", timeout=5)
    assert result.outcome is Outcome.RETRY and result.status is None
    assert dead_server_url in result.message
    assert "refused" in result.message.lower()


def test_a_server_that_does_not_answer_in_time_is_retried(ingest, token):
    ingest.answer_next(201, body={"id": 1}, hang=1.0)
    result = upload(ingest.url, token, make_report().encode(), timeout=0.2)
    assert result.outcome is Outcome.RETRY
    assert "within 0.2 s" in result.message


def test_a_url_that_is_not_the_ingest_endpoint_stops_without_rejecting(ingest, token):
    result = upload(ingest.url + "/some/prefix", token, make_report().encode(), timeout=5)
    assert result.outcome is Outcome.MISCONFIGURED and result.outcome.stops_flush
    assert "HTTP 404" in result.message


def test_a_success_status_without_a_run_id_is_not_taken_as_an_ack(ingest, token):
    ingest.answer_next(200, body={"hello": "captive portal"})
    result = upload(ingest.url, token, make_report().encode(), timeout=5)
    assert result.outcome is Outcome.MISCONFIGURED
    assert "without a run id" in result.message


def test_a_redirect_is_not_followed_and_names_the_target(ingest, token):
    ingest.answer_next(301, body={})
    result = upload(ingest.url, token, make_report().encode(), timeout=5)
    assert result.outcome is Outcome.MISCONFIGURED and "HTTP 301" in result.message


@pytest.mark.parametrize("retry,cap", [(0, 1.0), (1, 2.0), (3, 8.0), (10, 60.0)])
def test_backoff_is_full_jitter_under_a_capped_exponential(retry, cap):
    assert backoff_delay(retry, 1.0, 60.0, rand=lambda: 0.0) == 0.0
    assert backoff_delay(retry, 1.0, 60.0, rand=lambda: 0.5) == pytest.approx(cap / 2)
    assert backoff_delay(retry, 1.0, 60.0, rand=lambda: 0.999999) < cap


def test_flush_acks_only_after_the_server_stored_the_report(ingest, token, tmp_path, caplog):
    spool = Spool(tmp_path)
    spool.put(make_report("k1"), "k1")
    ingest.answer_next(503, times=2)
    sleeps = Sleeps()
    with caplog.at_level(logging.WARNING, logger="roofwatch.agent"):
        summary = flush(spool, ingest.url, token, max_attempts=5, base_delay=0.5, max_delay=10, sleep=sleeps)
    assert summary.ok and summary.remaining == 0 and spool.pending() == []
    assert summary.attempts == 3 and len(ingest.requests) == 3
    assert [u.key for u in summary.uploaded] == ["k1"]
    assert summary.uploaded[0].created is True
    assert [r["idempotency_key"] for r in ingest.stored_bodies()] == ["k1"]
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert all(ingest.url in m and "HTTP 503" in m for m in retries)


def test_flush_waits_at_least_as_long_as_the_server_asks(ingest, token, tmp_path):
    spool = Spool(tmp_path)
    spool.put(make_report("k1"), "k1")
    ingest.retry_after = "42"
    ingest.answer_next(503, times=2)
    sleeps = Sleeps()
    summary = flush(spool, ingest.url, token, max_attempts=5, base_delay=0.5, max_delay=10, sleep=sleeps)
    assert summary.ok and [u.key for u in summary.uploaded] == ["k1"]
    assert sleeps == [42.0, 42.0]  # above the backoff's 10 s cap: the server's word wins


def test_flush_uploads_in_spool_order(ingest, token, tmp_path):
    spool = Spool(tmp_path)
    for k in ["c", "a", "b"]:
        spool.put(make_report(k), k)
    summary = flush(spool, ingest.url, token, sleep=Sleeps())
    assert [u.key for u in summary.uploaded] == ["c", "a", "b"]
    assert [json.loads(body)["idempotency_key"] for _, _, body in ingest.requests] == ["c", "a", "b"]


def test_with_the_server_down_the_report_stays_and_is_uploaded_once_it_is_back(
    ingest, dead_server_url, token, tmp_path
):
    spool = Spool(tmp_path)
    path = spool.put(make_report("k1"), "k1")
    sleeps = Sleeps()
    down = flush(spool, dead_server_url, token, max_attempts=3, sleep=sleeps)
    assert down.remaining == 1 and not down.ok
    assert down.stopped is Outcome.RETRY and down.attempts == 3 and len(sleeps) == 2
    assert "refused" in down.last_error.lower() and dead_server_url in down.last_error
    assert spool.pending() == [path]

    up = flush(spool, ingest.url, token, sleep=sleeps)
    assert up.ok and [u.key for u in up.uploaded] == ["k1"]
    assert len(ingest.requests) == 1 and len(ingest.runs) == 1
    assert flush(spool, ingest.url, token).uploaded == []
    assert len(ingest.requests) == 1


def test_a_rejected_report_moves_aside_and_the_next_one_still_goes(ingest, token, tmp_path):
    spool = Spool(tmp_path)
    spool.put(b'{"schema": "roofwatch.run/0", "idempotency_key": "bad"}', "bad")
    spool.put(make_report("good"), "good")
    summary = flush(spool, ingest.url, token, sleep=Sleeps())
    assert [u.key for u in summary.uploaded] == ["good"]
    assert [p.name for p, _ in summary.rejected] == ["bad.json"]
    assert summary.remaining == 0 and not summary.ok
    note = (tmp_path / "rejected" / "bad.error.txt").read_text()
    assert "HTTP 400" in note and "expected 'roofwatch.run/1'" in note and ingest.url in note
    assert (tmp_path / "rejected" / "bad.json").exists()


def test_a_reused_idempotency_key_with_another_payload_is_rejected(ingest, token, tmp_path):
    spool = Spool(tmp_path)
    spool.put(make_report("k1", model="one"), "k1")
    flush(spool, ingest.url, token)
    spool.put(make_report("k1", model="other"), "k1")
    summary = flush(spool, ingest.url, token)
    assert summary.rejected and "HTTP 409" in summary.rejected[0][1]
    assert ingest.stored_bodies()[0]["benchmark"]["model"] == "one"


def test_a_refused_token_keeps_every_file_and_stops_the_flush(ingest, tmp_path):
    spool = Spool(tmp_path)
    kept = [spool.put(make_report(k), k) for k in ("k1", "k2")]
    summary = flush(spool, ingest.url, "rw_revoked", sleep=Sleeps())
    assert summary.stopped is Outcome.AUTH_FAILED
    assert summary.remaining == 2 and spool.pending() == kept
    assert len(ingest.requests) == 1  # no retries, no second file
    assert "wrong or was revoked" in summary.last_error
    assert spool.rejected() == []
