"""Live delivery through the channel layer, after commit.

Groups: a guide's chat sockets join ``chat_staff_group`` (every conversation of hers), a shopper's
join ``chat_member_group``. Server code never sends to a socket before its transaction commits,
and a channel layer that cannot be reached (Redis down) is logged, not raised: the message is
stored and the other side sees it when the page loads or the socket reconnects."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def chat_staff_group(brand_id: int, staff_id: int) -> str:
    return f"chat.{brand_id}.s.{staff_id}"


def chat_member_group(brand_id: int, member_id: int) -> str:
    return f"chat.{brand_id}.m.{member_id}"


async def _send_all(layer, groups: list[str], event: dict) -> None:
    await asyncio.gather(*(layer.group_send(group, event) for group in groups))


def send_now(groups: list[str], event: dict) -> None:
    """``event`` (a channel layer message: {"type": "chat.<x>", ...}) to each group, now: the
    groups at once, in one trip to the event loop. Returns when the layer has them, so the next
    message of the same sender is queued after this one."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # plain sync code (a request's thread, a worker): the usual case
            async_to_sync(_send_all)(layer, groups, event)
        else:  # sync code called on a thread that runs an event loop: hand it to a fresh thread
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(async_to_sync(_send_all), layer, groups, event).result()
    except Exception:  # the message is stored; the page catches up when it reconnects
        logger.warning("chat groups %s unreachable", groups, exc_info=True)


def send_on_commit(groups: list[str], event: dict) -> None:
    transaction.on_commit(lambda: send_now(groups, event))
