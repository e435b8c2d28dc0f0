"""Database work of a websocket frame, off the event loop, on a small pool of threads.

``channels.db.database_sync_to_async`` as it is (the connection is tidied around every call),
but on ``SOCKET_DB_THREADS`` threads of the process's own, each with its own connection. Two
threads overlap one frame's database waits with another's Python; more only pass the GIL back and
forth with the event loop, which then answers every socket later."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from channels.db import DatabaseSyncToAsync

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


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


def frame_db(fn):
    """``fn`` as a coroutine function run on the frames' pool of threads."""
    return DatabaseSyncToAsync(fn, thread_sensitive=False, executor=_frame_executor())
