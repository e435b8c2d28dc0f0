"""Outgoing messages to staff (invitation links, ...), through a pluggable sender."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class ConsoleSender:
    """The embedded default: writes the message to the log and keeps the last ones in memory."""

    outbox: list[dict] = []

    def send(self, *, phone: str, text: str) -> None:
        logger.info("message to %s: %s", phone, text)
        ConsoleSender.outbox.append({"phone": phone, "text": text})
        del ConsoleSender.outbox[:-100]


def get_sender():
    return import_string(settings.NOTIFY_BACKEND)()
