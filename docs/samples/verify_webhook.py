"""Verify a webhook from the retail platform (Python 3.9+, standard library only).

Each delivery carries the header

    Retail-Signature: t=1767225600,v1=c9c43053c587d9a132baf3e87a7f5cd6b5e5e5acf4ecb038f8c897644f666304

``v1`` is the hex HMAC-SHA256 of ``"<t>.<raw body>"`` keyed with the endpoint's signing secret
(the string shown once when the endpoint was created or its secret rotated, UTF-8 encoded).
While a secret is being rotated the header carries two ``v1=`` values, one per secret: accept
the delivery if any of them matches. Refuse a ``t`` more than 5 minutes away from your clock
(a replayed old delivery), and de-duplicate on ``Retail-Event-Id`` (a delivery can arrive more
than once).

Run it as a tiny receiver: ``WEBHOOK_SECRET=whsec_... python verify_webhook.py 8080``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The delivery is not from the platform (or too old): answer 400 and drop it."""


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """(timestamp, [v1 signatures]) of a ``Retail-Signature`` header."""
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        raise SignatureError("malformed Retail-Signature header")
    return timestamp, signatures


def verify_signature(
    payload: bytes,
    header: str,
    secret: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check ``payload`` (the raw request body, bytes exactly as received) against the
    ``Retail-Signature`` header. Returns the signed timestamp; raises SignatureError."""
    timestamp, signatures = parse_signature_header(header)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    signed = f"{timestamp}.".encode() + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, sig) for sig in signatures):
        raise SignatureError("no signature matches")
    return timestamp


def main() -> None:  # pragma: no cover - an example receiver
    import json
    import os
    import sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    secret = os.environ["WEBHOOK_SECRET"]
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    seen: set[str] = set()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                verify_signature(body, self.headers.get("Retail-Signature", ""), secret)
            except SignatureError as exc:
                self.send_response(400)
                self.end_headers()
                self.wfile.write(str(exc).encode())
                return
            event = json.loads(body)
            if event["id"] not in seen:  # keep this in your database, not in memory
                seen.add(event["id"])
                print(event["type"], event["data"])  # hand it to a queue; answer quickly
            self.send_response(204)
            self.end_headers()

    HTTPServer(("", port), Receiver).serve_forever()


if __name__ == "__main__":
    main()
