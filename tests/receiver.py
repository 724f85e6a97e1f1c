"""A webhook receiver for tests: a small HTTP server on 127.0.0.1 that records every request
and answers with the statuses it is told to, then 200."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.patience import SETTLE_SECONDS

# LEADFLOW_WEBHOOK_ALLOWED_TARGETS for tests whose webhooks go to a receiver on this machine.
ALLOWED_TARGETS = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: str

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def message(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    received: list[Received] = field(default_factory=list)
    # While set, requests are recorded and then held unanswered until it is cleared.
    hold: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(
        self, check: Callable[[list[Received]], bool], seconds: float = SETTLE_SECONDS
    ) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if check(list(self.received)):
                    return
            time.sleep(0.02)
        with self.lock:
            raise AssertionError(f"not received in {seconds} s: {len(self.received)} so far")

    def ids(self) -> list[str]:
        with self.lock:
            return [r.id for r in self.received]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def receiving(receiver: Receiver, port: int = 0) -> Iterator[str]:
    """Serve the receiver on 127.0.0.1 until the block ends; yield its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = self.rfile.read(length).decode()
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.lock:
                receiver.received.append(Received(headers, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            while receiver.hold.is_set():
                time.sleep(0.02)
            try:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender is gone

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        receiver.hold.clear()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
