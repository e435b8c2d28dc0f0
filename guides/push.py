"""Push notifications to staff phones, through a pluggable sender (``PUSH_BACKEND``).

A real deployment points the setting at a class with the same ``send`` method that calls its push
service (APNs/FCM/a vendor SDK). The embedded default logs the push and keeps the last ones."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class LogPush:
    outbox: list[dict] = []

    def send(self, *, brand_id: int, staff_id: int, title: str, body: str, link: str = "") -> None:
        logger.info("push to staff %s: %s: %s", staff_id, title, body)
        LogPush.outbox.append(
            {"brand": brand_id, "staff": staff_id, "title": title, "body": body, "link": link}
        )
        del LogPush.outbox[:-1000]


def get_sender():
    return import_string(settings.PUSH_BACKEND)()
