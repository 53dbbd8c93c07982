"""A loopback HTTP proxy in front of a live server that a test (or the soak
benchmark) controls, to play outages the agent must ride out:

    mode "pass"    forward every request
    mode "503"     answer 503 with Retry-After: 1, forwarding nothing
    mode "hang"    hold each request `hang_seconds`, then close without an answer
    refuse()       stop listening (connections are refused) until listen()

`upload_hold` holds the answer to each report upload that long *after* the
server stored it, so a kill -9 lands between the store and the agent's ack;
`claim_hold` likewise holds each claim's answer after the server claimed the
job, so a kill -9 lands before the agent learns the job."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}
RUNS_PREFIX = "/api/v1/runs/"
CLAIM_PATH = "/api/v1/jobs/claim"


class PlatformProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.mode = "pass"
        self.hang_seconds = 2.0
        self.upload_hold = 0.0
        self.uploads_held = 0  # answers to uploads being held right now
        self.claim_hold = 0.0
        self.claims_held = 0  # answers to claims being held right now
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self.listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def listen(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def refuse(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self.refuse()

    def forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_HEADERS}
        resp = requests.request(handler.command, self.target + handler.path, data=body, headers=headers,
                                timeout=60, allow_redirects=False)
        resp.close()  # the body is read: the server's connection (and its database session) ends before a hold
        if handler.path.startswith(RUNS_PREFIX):
            self._hold("upload_hold", "uploads_held")
        elif handler.path == CLAIM_PATH:
            self._hold("claim_hold", "claims_held")
        handler.send_response(resp.status_code)
        for k, v in resp.headers.items():
            if k.lower() not in HOP_HEADERS:
                handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(resp.content)))
        handler.end_headers()
        handler.wfile.write(resp.content)

    def _hold(self, seconds: str, counter: str) -> None:
        """Hold an answer self.<seconds> long, counted in self.<counter> meanwhile."""
        hold = getattr(self, seconds)
        if not hold:
            return
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)
        time.sleep(hold)
        with self._lock:
            setattr(self, counter, getattr(self, counter) - 1)


def _handler(proxy: PlatformProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                if proxy.mode == "503":
                    self.send_response(503)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif proxy.mode == "hang":
                    time.sleep(proxy.hang_seconds)
                    self.close_connection = True
                else:
                    proxy.forward(self, body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the agent was killed or gave up

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
