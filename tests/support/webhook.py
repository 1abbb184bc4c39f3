"""A webhook receiver on loopback: Apprise's json:// target posts here, and tests read what
arrived. `status` makes it fail (e.g. 500) to test a failing notifier."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[dict] = []
        self.requests = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests += 1
                    if receiver.status < 300:
                        receiver.bodies.append(json.loads(raw or b"{}"))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:  # quiet test output
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "volt") -> str:
        """This receiver as an Apprise URL."""
        return f"json://127.0.0.1:{self.port}/{path}"

    def titles(self) -> list[str]:
        with self._lock:
            return [body.get("title", "") for body in self.bodies]

    def wait_for_title(self, start: str, timeout: float = 10.0) -> dict:
        """The first message whose title starts with `start`, within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for body in self.bodies:
                    if body.get("title", "").startswith(start):
                        return body
            time.sleep(0.05)
        raise AssertionError(f"no message titled {start!r} within {timeout:.0f} s: {self.titles()}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
