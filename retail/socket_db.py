"""Database work of a websocket frame, off the event loop, on a small pool of threads.

Like ``channels.db.database_sync_to_async``, on ``SOCKET_DB_THREADS`` threads of the process's
own, each with its own connection. Two threads overlap one frame's database waits with another's
Python; more only pass the GIL back and forth with the event loop, which then answers every
socket later.

The connection is tidied around a call as Django tidies it around a request (closed when it had
an error, is past ``CONN_MAX_AGE`` or was left outside autocommit; checked with a ``SELECT 1``
before its next use), except that a connection the thread used within ``ALIVE_SECONDS`` without
an error is taken as alive: under load a frame does not pay a round trip to ask. A connection that
dies in that second fails the frame that meets it (an error frame, "please try again"), as one
that dies in the middle of a request fails the request; the next frame reconnects."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import close_old_connections, connections

ALIVE_SECONDS = 1.0

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_local = threading.local()


def _frame_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                from django.conf import settings

                _executor = ThreadPoolExecutor(
                    max_workers=settings.SOCKET_DB_THREADS, thread_name_prefix="socket-db"
                )
    return _executor


def _tidy_due() -> bool:
    """Whether this thread's connections need Django's tidying before (or after) a call."""
    used = getattr(_local, "used_at", None)
    now = time.monotonic()
    if used is None or now - used > ALIVE_SECONDS:
        return True
    for conn in connections.all(initialized_only=True):
        if conn.errors_occurred or (conn.close_at is not None and now >= conn.close_at):
            return True
        if conn.connection is not None and conn.autocommit != conn.settings_dict["AUTOCOMMIT"]:
            return True
    return False


class FrameDatabaseSyncToAsync(SyncToAsync):
    """``SyncToAsync`` whose thread tidies its database connections when they need it (above)."""

    def thread_handler(self, loop, *args, **kwargs):
        if _tidy_due():
            close_old_connections()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            _local.used_at = time.monotonic()
            if _tidy_due():
                close_old_connections()


def frame_db(fn):
    """``fn`` as a coroutine function run on the frames' pool of threads."""
    return FrameDatabaseSyncToAsync(fn, thread_sensitive=False, executor=_frame_executor())


class FrameConsumer(AsyncWebsocketConsumer):
    """A websocket consumer whose database work all runs through ``frame_db`` or channels'
    ``database_sync_to_async`` (each tidies its own thread's connection around the call).

    channels closes old connections before every handler it dispatches (each frame in, each
    channel-layer event out) on its one thread-sensitive thread: a hop to that thread per frame and
    per delivered message, for connections these consumers never use there. They skip it."""

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
