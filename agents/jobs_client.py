"""The agent's side of the jobs API (claim, heartbeat, complete, release by
id or by lease); see the platform's fleet app. Every call raises one of three errors a caller can
act on: Unreachable (retry later; `retry_after` is the server's Retry-After in
seconds, if it sent one), LeaseLost (409: someone else owns the job now, or it
is done), JobsRefused (any other answer: auth, a bad request)."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import requests

from engine.report import BACKEND_ENGINE, UNDER_TEST, UNDER_TEST_ENGINE

from .client import _reason, _server_message
from .config import BenchmarkSpec
from .http_retry import retry_after_seconds

TIMEOUT = 30.0
LEASE_PREFIX = "rwl_"  # the platform's fleet.jobs.LEASE_PREFIX (tests/platform/test_jobs_chosen_lease.py)


def new_lease() -> str:
    """A lease for the next claim, chosen here so it can be recorded before the request."""
    return LEASE_PREFIX + secrets.token_urlsafe(32)


class JobsError(Exception):
    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class Unreachable(JobsError):
    """No answer, or 429/5xx: try again later."""


class LeaseLost(JobsError):
    """409: the lease is not the job's current one, or the job is finished."""


class JobsRefused(JobsError):
    """401/403/404/400 or an answer that is not the contract's."""


@dataclass(frozen=True)
class Job:
    """A claimed job: what to measure (`spec`, as a [[benchmarks]] entry of the
    agent's config) and the job's own limits and commit."""

    id: int
    lease: str
    kind: str
    spec: BenchmarkSpec
    threads: int | None = None
    timeout_seconds: float | None = None
    repository: str = ""
    commit: str = ""
    base_commit: str = ""  # of a "commits" job: list base_commit..commit
    under_test: str = UNDER_TEST_ENGINE  # of a commit or bisect job: the commit's engine runs it, or ours its model

    @classmethod
    def from_json(cls, doc: Any) -> "Job":
        try:
            bench, config = doc["benchmark"], doc.get("config") or {}
            params = dict(bench.get("params") or {})
            # an onnxruntime run's benchmark params carry its backend (what keeps its series apart);
            # the engine takes it as --backend, not as a model param
            backend = str(config.get("backend") or params.pop("backend", None) or BACKEND_ENGINE)
            spec = BenchmarkSpec(
                model=str(bench["model"]), params=params, backend=backend,
                passes=list(config.get("passes") or []), quant=str(config.get("quant") or "none"),
                flags=dict(config.get("flags") or {}), inject=list(config.get("inject") or []),
                warmup=doc.get("warmup"), repeats=doc.get("repeats"),
                target_ci=config.get("target_ci"), budget_s=config.get("budget_s"), sweep=config.get("sweep"))
            return cls(
                id=int(doc["id"]), lease=str(doc["lease"]), kind=str(doc.get("kind") or "schedule"), spec=spec,
                threads=doc.get("threads"), timeout_seconds=doc.get("timeout_seconds"),
                repository=str(doc.get("repository") or ""), commit=str(doc.get("commit") or ""),
                base_commit=str(doc.get("base_commit") or ""),
                under_test=_under_test(doc.get("under_test")),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise JobsRefused(f"the claimed job is not in the jobs contract's shape ({e!r}): {doc!r}"[:1000]) from None


def _under_test(value: Any) -> str:
    """The job's under_test; absent (an older platform) is the engine."""
    if value in (None, ""):
        return UNDER_TEST_ENGINE
    if value not in UNDER_TEST[1:]:
        raise ValueError(f"under_test: expected one of {UNDER_TEST[1:]}, got {value!r}")
    return value


class JobsClient:
    def __init__(self, server: str, token: str, *, timeout: float = TIMEOUT) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def close(self) -> None:
        self.session.close()

    def claim(self, lease_seconds: int, status: dict | None = None, lease: str | None = None) -> Job | None:
        """The next job under a lease (`lease`, if given: see new_lease), or None;
        `status` (state.agent_status) goes along for fleet health."""
        body: dict = {"lease_seconds": lease_seconds}
        if status is not None:
            body["agent"] = status
        if lease is not None:
            body["lease"] = lease
        resp = self._post("/api/v1/jobs/claim", body)
        if resp.status_code == 204:
            return None
        try:
            doc = resp.json()
        except ValueError:
            raise JobsRefused(f"{resp.url} answered {resp.status_code} without JSON") from None
        return Job.from_json(doc)

    def heartbeat(self, job: Job) -> None:
        self._post(f"/api/v1/jobs/{job.id}/heartbeat", {"lease": job.lease})

    def complete_run(self, job_id: int, lease: str, run_id: int) -> None:
        self._post(f"/api/v1/jobs/{job_id}/complete", {"lease": lease, "run": run_id})

    def complete_result(self, job_id: int, lease: str, result: dict) -> None:
        """Finish a "commits" job with its answer: {"commits": [...]}."""
        self._post(f"/api/v1/jobs/{job_id}/complete", {"lease": lease, "result": result})

    def complete_sweep(self, job_id: int, lease: str, sweep_id: int) -> None:
        """A job whose config has a sweep: done with the sweep it uploaded."""
        self._post(f"/api/v1/jobs/{job_id}/complete", {"lease": lease, "sweep": sweep_id})

    def complete_error(self, job_id: int, lease: str, error: str, stderr_tail: str, timed_out: bool) -> None:
        self._post(f"/api/v1/jobs/{job_id}/complete",
                   {"lease": lease, "error": error, "stderr_tail": stderr_tail, "timed_out": timed_out})

    def release(self, job_id: int, lease: str, *, timeout: float | None = None) -> None:
        """Give a claimed job back: the server queues it again at once."""
        self._post(f"/api/v1/jobs/{job_id}/release", {"lease": lease}, timeout=timeout)

    def release_lease(self, lease: str, *, timeout: float | None = None) -> int | None:
        """Give back the job claimed under `lease` without knowing its id; its id,
        or None when no job holds the lease (the claim never got one)."""
        try:
            resp = self._post("/api/v1/jobs/release", {"lease": lease}, timeout=timeout)
        except JobsRefused as e:
            if e.status == 404:
                return None
            raise
        try:
            return int(resp.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise JobsRefused(f"{resp.url} answered {resp.status_code} without a job id") from None

    def _post(self, path: str, body: dict, *, timeout: float | None = None) -> requests.Response:
        url = self.server + path
        timeout = timeout or self.timeout
        try:
            resp = self.session.post(url, json=body, timeout=timeout, allow_redirects=False)
        except requests.Timeout:
            raise Unreachable(f"no answer from {url} within {timeout:g} s") from None
        except requests.ConnectionError as e:
            raise Unreachable(f"cannot connect to {url}: {_reason(e)}") from None
        except requests.RequestException as e:
            raise JobsRefused(f"cannot send to {url}: {e}") from None
        status = resp.status_code
        if status in (200, 201, 204):
            return resp
        message = f"HTTP {status} from {url}: {_server_message(resp)}"
        if status == 409:
            raise LeaseLost(message, status)
        if status == 429 or status >= 500:
            raise Unreachable(message, status, retry_after_seconds(resp))
        raise JobsRefused(message, status)
