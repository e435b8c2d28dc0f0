"""Live delivery through the channel layer, after commit.

Groups: a guide's chat sockets join ``chat_staff_group`` (every conversation of hers), a shopper's
join ``chat_member_group``. Server code never sends to a socket before its transaction commits,
and a channel layer that cannot be reached (Redis down) is logged, not raised: the message is
stored and the other side sees it when the page loads or the socket reconnects."""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def chat_staff_group(brand_id: int, staff_id: int) -> str:
    return f"chat.{brand_id}.s.{staff_id}"


def chat_member_group(brand_id: int, member_id: int) -> str:
    return f"chat.{brand_id}.m.{member_id}"


async def _send_all(layer, groups: list[str], event: dict) -> None:
    await asyncio.gather(*(layer.group_send(group, event) for group in groups))


async def _send_all_logged(layer, groups: list[str], event: dict) -> None:
    try:
        await _send_all(layer, groups, event)
    except Exception:
        logger.warning("chat groups %s unreachable", groups, exc_info=True)


_running: set[asyncio.Task] = set()  # held until done (the loop keeps only weak references)


def _start(loop, layer, groups: list[str], event: dict) -> None:
    task = loop.create_task(_send_all_logged(layer, groups, event))
    _running.add(task)
    task.add_done_callback(_running.discard)


def _socket_loop():
    """The event loop of the socket whose frame this thread works for (a thread of
    ``retail.socket_db``'s pool, or any ``sync_to_async`` thread), if it is running."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None or getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop if loop.is_running() else None


def send_now(groups: list[str], event: dict) -> None:
    """``event`` (a channel layer message: {"type": "chat.<x>", ...}) to each group, now: the
    groups at once, in one trip to the event loop.

    From a socket's frame (a thread working for the event loop) the sends are handed to the loop
    and not waited for: the thread goes on to the next frame. The loop starts them in the order
    they were handed over and the layer sends them in that order, so a sender's messages stay in
    order. Elsewhere (a request's thread, a worker) it returns when the layer has them."""
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _socket_loop()
    if loop is not None:
        loop.call_soon_threadsafe(_start, loop, layer, groups, event)
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
