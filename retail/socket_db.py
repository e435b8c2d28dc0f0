"""Database work of a websocket frame, off the event loop.

``channels.db.database_sync_to_async`` runs ``close_old_connections`` around every call, and with
``CONN_HEALTH_CHECKS`` that makes the next query of every frame a ``SELECT 1`` first: on a busy
socket (a chat) that is a round trip per frame for a connection that answered a moment ago.
``frame_db`` tidies the same way (a connection that failed, changed its autocommit or outlived
``CONN_MAX_AGE`` is closed), but a connection whose health was checked within
``HEALTH_CHECK_EVERY`` seconds, and has had no error since, is not checked again."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync
from django.db import connections

HEALTH_CHECK_EVERY = 5.0


_local = threading.local()


def _checked() -> dict[str, float]:
    """When each of this thread's connections was last health-checked (connections are
    per thread, so is this)."""
    if not hasattr(_local, "checked"):
        _local.checked = {}
    return _local.checked


def _tidy(checked: dict[str, float]) -> None:
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        fresh = conn.health_check_done and now - checked.get(conn.alias, -1e9) < HEALTH_CHECK_EVERY
        conn.close_if_unusable_or_obsolete()
        if conn.connection is None:
            checked.pop(conn.alias, None)
        elif fresh and not conn.errors_occurred:
            conn.health_check_done = True


class FrameSyncToAsync(SyncToAsync):
    def thread_handler(self, loop, *args, **kwargs):
        checked = _checked()
        _tidy(checked)
        before = {c.alias: c.health_check_done for c in connections.all(initialized_only=True)}
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            now = time.monotonic()
            for conn in connections.all(initialized_only=True):
                if conn.health_check_done and not before.get(conn.alias, False):
                    checked[conn.alias] = now  # checked, or connected, during this frame
            _tidy(checked)


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _frame_executor() -> ThreadPoolExecutor:
    """The process's pool for frames' database work: ``SOCKET_DB_THREADS`` threads (each with its
    own connection). Two overlap one frame's database waits with another's Python; more only
    trade the GIL back and forth with the event loop, which then answers every socket later."""
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                from django.conf import settings

                _executor = ThreadPoolExecutor(
                    max_workers=settings.SOCKET_DB_THREADS, thread_name_prefix="socket-db"
                )
    return _executor


def frame_db(fn):
    """``fn`` as a coroutine function run on the frames' pool of threads."""
    return FrameSyncToAsync(fn, thread_sensitive=False, executor=_frame_executor())
