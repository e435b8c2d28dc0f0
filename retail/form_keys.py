"""The one-time key a form that moves money carries, so a double submit acts once."""

from __future__ import annotations

import uuid

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def new_key() -> str:
    """A fresh one-time key for a form."""
    return str(uuid.uuid4())
