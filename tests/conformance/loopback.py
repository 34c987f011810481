"""A merchant's notify URL on loopback, for the conformance tests: records every request exactly as the sandbox sent
it (path, headers, body bytes) and answers what the channel expects, so the SDKs' verifiers read the real thing."""

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

# What the merchant answers a notification body with: (status, content type, body).
Answer = Callable[[bytes], tuple[int, str, bytes]]


class LoopbackMerchant:
    def __init__(self, answer: Answer) -> None:
        received: list[SimpleNamespace] = []
        arrived = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with arrived:
                    received.append(SimpleNamespace(path=self.path, headers=dict(self.headers), body=body))
                    arrived.notify_all()
                status, content_type, reply = answer(body)
                self.send_response(status)
                if reply:
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:  # quiet
                pass

        self.requests, self._arrived = received, arrived
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def address(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def wait_until(
        self, matches: Callable[[SimpleNamespace], bool], count: int, timeout: float, what: str
    ) -> list:
        """The first `count` requests that match, waiting for them (on arrival, not by polling)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(got := [r for r in self.requests if matches(r)]) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"no {what}; received {[r.path for r in self.requests]}"
                self._arrived.wait(left)
        return got[:count]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
