"""Live delivery through the channel layer, after commit.

Groups: a guide's chat sockets join ``chat_staff_group`` (every conversation of hers), a shopper's
join ``chat_member_group``. Server code never sends to a socket before its transaction commits,
and a channel layer that cannot be reached (Redis down) is logged, not raised: the message is
stored and the other side sees it when the page loads or the socket reconnects."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def chat_staff_group(brand_id: int, staff_id: int) -> str:
    return f"chat.{brand_id}.s.{staff_id}"


def chat_member_group(brand_id: int, member_id: int) -> str:
    return f"chat.{brand_id}.m.{member_id}"


def send_now(groups: list[str], event: dict) -> None:
    """``event`` (a channel layer message: {"type": "chat.<x>", ...}) to each group, now."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, event)
    except Exception:  # the message is stored; the page catches up when it reconnects
        logger.warning("chat groups %s unreachable", groups, exc_info=True)


def send_on_commit(groups: list[str], event: dict) -> None:
    transaction.on_commit(lambda: send_now(groups, event))
