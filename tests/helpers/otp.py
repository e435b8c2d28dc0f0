"""The one-time codes that the console SMS sender delivered during a test."""

from __future__ import annotations

import re

from retail.notify import ConsoleSender


def last_code() -> str:
    """The six-digit code in the last text message sent."""
    return re.search(r"\b(\d{6})\b", ConsoleSender.outbox[-1]["text"]).group(1)
