"""A real HTTP server speaking the platform's ingest protocol, for agent tests.

It stores reports by idempotency_key (replay -> 200 with the same id, same key
with another body -> 409) and can be scripted to answer the next requests with
a given status, or to hang past the client's timeout.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from engine.report import SCHEMA

RUNS_PATH = "/api/v1/runs/"
GOOD_TOKEN = "rw_good-token"
OTHER_MACHINE_TOKEN = "rw_other-machine"


@dataclass
class Scripted:
    status: int
    body: dict | None
    hang: float = 0.0


class IngestServer:
    def __init__(self) -> None:
        self.runs: dict[str, tuple[int, bytes]] = {}  # idempotency_key -> (run id, body)
        self.requests: list[tuple[str, str, bytes]] = []  # (path, Authorization, body)
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._next_id = 1
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
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
        if path != RUNS_PATH:
            return 404, {"detail": "Not found."}
        if auth == f"Token {OTHER_MACHINE_TOKEN}":
            return 403, {"detail": "This token belongs to machine 'other'."}
        if auth != f"Token {GOOD_TOKEN}":
            return 401, {"detail": "Invalid token."}
        try:
            doc = json.loads(body)
        except ValueError:
            return 400, {"detail": "Invalid run report.", "errors": {"body": ["not JSON"]}}
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not doc.get("idempotency_key"):
            return 400, {"detail": "Invalid run report.", "errors": {"schema": [f"expected {SCHEMA!r}"]}}
        key = doc["idempotency_key"]
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


def _handler_for(server: IngestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, payload = server.handle(self.path, self.headers.get("Authorization", ""), body)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
