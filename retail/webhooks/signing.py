"""The ``Retail-Signature`` header: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``,
with one ``v1=`` per secret in force (two while a rotated secret's grace lasts).

A receiver recomputes the HMAC over the raw body with its secret, compares in constant time with
any ``v1`` and refuses a ``t`` more than ``TOLERANCE_SECONDS`` away from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Retail-Signature"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secrets: list[str], timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return ",".join([f"t={t}", *(f"v1={signature(s, t, body)}" for s in secrets)])


def verify(body: bytes, header: str, secret: str, *, tolerance: int = TOLERANCE_SECONDS, now=None) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within the tolerance (what a receiver does)."""
    items = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [v for k, v in items if k.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit():
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = signature(secret, t, body)
    return any(hmac.compare_digest(expected, v.strip()) for k, v in items if k.strip() == "v1")
