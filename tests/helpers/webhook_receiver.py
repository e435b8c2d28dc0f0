"""A real local webhook receiver for the tests: an HTTP server on 127.0.0.1 in a thread that
checks each request's ``Retail-Signature`` the way a partner's receiver would (its own code, not
the platform's), and answers as told: 200, another status, a redirect, or not until released."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def check_signature(body: bytes, header: str, secret: str, tolerance: int = 300) -> bool:
    """Whether one of the header's v1 signatures is HMAC-SHA256(secret, "<t>.<body>") and t is fresh."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    if len(stamps) != 1 or abs(time.time() - int(stamps[0])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), stamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")


class Receiver:
    """``with Receiver(secrets=[...]) as r:`` ... ``r.url``, ``r.received`` (one dict a request)."""

    def __init__(self, *, secrets=(), status: int = 200, hold: bool = False, location: str = ""):
        self.secrets = list(secrets)
        self.status = status
        self.hold = hold  # answer only once released (a slow endpoint)
        self.location = location
        self.released = threading.Event()
        self.received: list[dict] = []
        self.connections: set = set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                signature = self.headers.get("Retail-Signature", "")
                record = {
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": body,
                    "json": json.loads(body) if body else None,
                    "signature": signature,
                    "v1": [
                        v for k, v in (p.split("=", 1) for p in signature.split(",") if "=" in p) if k == "v1"
                    ],
                    "valid_for": [s for s in receiver.secrets if check_signature(body, signature, s)],
                    "connection": self.client_address,
                }
                with receiver._lock:
                    receiver.received.append(record)
                    receiver.connections.add(self.client_address)
                if receiver.hold:
                    receiver.released.wait(30)
                answer = b'{"ok":true}'
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/retail?src=test"

    def delivery_ids(self) -> list[int]:
        return [int(r["headers"]["Retail-Delivery-Id"]) for r in self.received]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """The URL of a port nothing listens on (connection refused: a dead endpoint)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/dead"
