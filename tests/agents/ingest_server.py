"""A real HTTP server speaking the platform's ingest protocol, for agent tests.

It stores reports by idempotency_key (replay -> 200 with the same id, same key
with another body -> 409) and can be scripted to answer the next requests with
a given status, or to hang past the client's timeout. It also speaks the jobs
contract (/tmp/jobs_contract.md: claim under the agent's lease or one of its
own, heartbeat, complete, release by id or by lease; an expired lease makes a
job claimable again; a job completes once) and agent registration, for fast
agent tests; the platform's own tests cover the real ones.
"""
from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from engine.report import SCHEMA

RUNS_PATH = "/api/v1/runs/"
CLAIM_PATH = "/api/v1/jobs/claim"
GOOD_TOKEN = "rw_good-token"
OTHER_MACHINE_TOKEN = "rw_other-machine"


@dataclass
class Scripted:
    status: int
    body: dict | None
    hang: float = 0.0


ENROLL_TOKEN = "enroll-ok"
_JOB_PATH = re.compile(r"^/api/v1/jobs/(\d+)/(heartbeat|complete|release)$")


@dataclass
class FakeJob:
    id: int
    spec: dict
    status: str = "queued"  # queued | claimed | done | failed
    lease: str = ""
    lease_expires: float = 0.0
    lease_seconds: int = 900
    claims: int = 0
    heartbeats: int = 0
    releases: int = 0
    lease_releases: int = 0  # of `releases`, those by the lease alone (POST /api/v1/jobs/release)
    completions: list = field(default_factory=list)  # every accepted completion body


class IngestServer:
    def __init__(self, port: int = 0) -> None:
        self.runs: dict[str, tuple[int, bytes]] = {}  # idempotency_key -> (run id, body)
        self.requests: list[tuple[str, str, bytes]] = []  # (path, Authorization, body)
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._next_id = 1
        self.upload_delay = 0.0  # seconds each report upload takes before it is stored
        self.claim_delay = 0.0  # seconds each claim's answer is held after the job was claimed
        self.retry_after: str | None = None  # sent as Retry-After with every 429 and 503
        self.jobs: dict[int, FakeJob] = {}
        self.registrations: list[dict] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def start(self) -> "IngestServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer_next(self, status: int, times: int = 1, body: dict | None = None, hang: float = 0.0) -> None:
        """Answer the next `times` requests with `status` (and `body`), storing nothing."""
        with self._lock:
            for _ in range(times):
                self._script.append(Scripted(status, body, hang))

    def add_job(self, model: str = "mlp", **spec: object) -> int:
        """Queue a job for the (only) machine; `spec` overrides the claim answer's fields."""
        with self._lock:
            job_id = len(self.jobs) + 1
            body = {"kind": "schedule", "benchmark": {"model": model, "params": {}},
                    "config": {"passes": [], "quant": "none", "flags": {}, "inject": []},
                    "warmup": 1, "repeats": 2, "threads": None, "timeout_seconds": 600,
                    "repository": "", "commit": "", **spec}
            self.jobs[job_id] = FakeJob(job_id, body)
            return job_id

    def expire_lease(self, job_id: int) -> None:
        with self._lock:
            self.jobs[job_id].lease_expires = 0.0

    def stored_bodies(self) -> list[dict]:
        with self._lock:
            return [json.loads(body) for _, body in self.runs.values()]

    def handle(self, path: str, auth: str, body: bytes) -> tuple[int, dict]:
        with self._lock:
            self.requests.append((path, auth, body))
            scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            time.sleep(scripted.hang)
            return scripted.status, scripted.body if scripted.body is not None else {"detail": f"scripted {scripted.status}"}
        if path == "/api/v1/agents/register":
            return self._register(body)
        if path != RUNS_PATH and not path.startswith("/api/v1/jobs/"):
            return 404, {"detail": "Not found."}
        if auth == f"Token {OTHER_MACHINE_TOKEN}" and path == RUNS_PATH:
            return 403, {"detail": "This token belongs to machine 'other'."}
        if auth != f"Token {GOOD_TOKEN}":
            return 401, {"detail": "Invalid token."}
        if path.startswith("/api/v1/jobs/"):
            answer = self._jobs(path, body)
            if path == CLAIM_PATH:
                time.sleep(self.claim_delay)
            return answer
        try:
            doc = json.loads(body)
        except ValueError:
            return 400, {"detail": "Invalid run report.", "errors": {"body": ["not JSON"]}}
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not doc.get("idempotency_key"):
            return 400, {"detail": "Invalid run report.", "errors": {"schema": [f"expected {SCHEMA!r}"]}}
        key = doc["idempotency_key"]
        time.sleep(self.upload_delay)
        with self._lock:
            if key in self.runs:
                run_id, stored = self.runs[key]
                if json.loads(stored) != doc:
                    return 409, {"detail": f"idempotency_key {key} was used for a different report."}
                return 200, {"id": run_id, "url": f"/runs/{run_id}/", "created": False}
            run_id = self._next_id
            self._next_id += 1
            self.runs[key] = (run_id, body)
        return 201, {"id": run_id, "url": f"/runs/{run_id}/", "created": True}

    def _register(self, body: bytes) -> tuple[int, dict]:
        doc = json.loads(body or b"{}")
        with self._lock:
            self.registrations.append(doc)
        if doc.get("enroll_token") != ENROLL_TOKEN:
            return 401, {"detail": "Invalid enrollment token: unknown."}
        return 201, {"machine": doc.get("name"), "token": GOOD_TOKEN}

    def _jobs(self, path: str, body: bytes) -> tuple[int, dict | None]:
        doc = json.loads(body or b"{}")
        now = time.monotonic()
        with self._lock:
            if path == CLAIM_PATH:
                for job in self.jobs.values():
                    if job.status == "queued" or (job.status == "claimed" and job.lease_expires < now):
                        job.status, job.claims = "claimed", job.claims + 1
                        job.lease = doc.get("lease") or uuid.uuid4().hex  # the agent's choice, if it made one
                        job.lease_seconds = int(doc.get("lease_seconds", 900))
                        job.lease_expires = now + job.lease_seconds
                        return 200, {"id": job.id, "lease": job.lease, "lease_expires": "later", **job.spec}
                return 204, None
            if path == "/api/v1/jobs/release":
                return self._release_by_lease(doc.get("lease"))
            match = _JOB_PATH.match(path)
            if match is None or int(match.group(1)) not in self.jobs:
                return 404, {"detail": "Not found."}
            job = self.jobs[int(match.group(1))]
            if job.status != "claimed" or doc.get("lease") != job.lease:
                return 409, {"detail": f"lease lost: job {job.id} is {job.status}"}
            if match.group(2) == "heartbeat":
                job.heartbeats += 1
                job.lease_expires = now + job.lease_seconds
                return 200, {"lease_expires": "later"}
            if match.group(2) == "release":
                return self._release(job)
            if "run" in doc:
                if not any(rid == doc["run"] for rid, _ in self.runs.values()):
                    return 400, {"detail": f"run {doc['run']} is not a run of this machine."}
                job.status = "done"
            else:
                job.status = "done" if "result" in doc else "failed"  # result: a commits job's answer
            job.completions.append(doc)
            return 200, {"id": job.id, "status": job.status}

    def _release_by_lease(self, lease: object) -> tuple[int, dict]:
        held = [job for job in self.jobs.values() if job.status == "claimed" and lease and job.lease == lease]
        if not held:
            return 404, {"detail": "No claimed job of this machine holds this lease."}
        held[0].lease_releases += 1
        return self._release(held[0])

    @staticmethod
    def _release(job: FakeJob) -> tuple[int, dict]:
        job.status, job.lease, job.releases = "queued", "", job.releases + 1
        return 200, {"id": job.id, "status": job.status}


def _handler_for(server: IngestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, payload = server.handle(self.path, self.headers.get("Authorization", ""), body)
            data = json.dumps(payload).encode() if payload is not None else b""
            try:
                self.send_response(status)
                if payload is not None:
                    self.send_header("Content-Type", "application/json")
                if status in (429, 503) and server.retry_after is not None:
                    self.send_header("Retry-After", server.retry_after)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
