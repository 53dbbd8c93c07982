"""A real HTTP receiver on loopback for outbound webhook tests: it records
every request, can fail the first N with a status code, can hold a request
until told to answer, and de-duplicates by X-Roofwatch-Delivery like a
well-behaved receiver should."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    fail_first: int = 0
    fail_status: int = 503
    fail_body: bytes = b'{"ok": false}'  # what a failing answer says
    hold_first: bool = False  # block the first request until `release` is set
    requests: list[Seen] = field(default_factory=list)
    accepted_ids: list[str] = field(default_factory=list)  # delivery ids taken in, each once
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(Seen(self.path, dict(self.headers), body))
                    number = len(receiver.requests)
                receiver.arrived.set()
                if receiver.hold_first and number == 1:
                    receiver.release.wait(60)
                status = receiver.fail_status if number <= receiver.fail_first else 200
                if status == 200:
                    delivery = self.headers.get("X-Roofwatch-Delivery", "")
                    with receiver.lock:
                        if delivery not in receiver.accepted_ids:
                            receiver.accepted_ids.append(delivery)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"ok": true}' if status == 200 else receiver.fail_body)
                except OSError:
                    pass  # the sender went away (killed)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
