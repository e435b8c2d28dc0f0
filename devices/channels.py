"""Messages from server code to a device's live connection, through the channel layer, after commit.

Each device has at most one live connection, whose channel name ``Device.connection`` keeps; the
consumer (devices/consumers.py) turns ``device.command`` into a command frame and ``device.close``
into a close with the given code."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# Close codes (docs/kiosk-protocol.md).
CLOSE_BAD_HANDSHAKE = 4400
CLOSE_AUTH_FAILED = 4401
CLOSE_REVOKED = 4403  # disabled, credential rotated or paired again
CLOSE_TIMEOUT = 4408
CLOSE_REPLACED = 4409
CLOSE_UNSUPPORTED_VERSION = 4426
CLOSE_RATE_LIMITED = 4429
CLOSE_SERVER_ERROR = 1011  # a fault of the server: reconnect and send again


def send(channel_name: str, message: dict) -> bool:
    """Send now; False (and a warning) when the channel layer cannot be reached."""
    try:
        async_to_sync(get_channel_layer().send)(channel_name, message)
    except Exception:  # Redis down: the device learns on its next connection
        logger.warning("device channel %s unreachable", channel_name, exc_info=True)
        return False
    return True


def close_on_commit(channel_name: str, code: int) -> None:
    transaction.on_commit(lambda: send(channel_name, {"type": "device.close", "code": code}))


def command_on_commit(channel_name: str, command) -> None:
    message = {
        "type": "device.command",
        "name": command.name,
        "id": str(command.uid),
        "payload": command.payload,
    }
    transaction.on_commit(lambda: send(channel_name, message))
