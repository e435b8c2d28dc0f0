"""Face work off the event loop and off the request thread: a pool of worker processes.

Each worker imports face_recognition (and its models) once. settings.FACE_WORKERS sets the pool's
size; 0 runs the work in the calling thread (tests, and management commands that run alone).
``analyse`` is awaited by consumers; sync callers (a Celery task on the ``faces`` queue) call
``analyse_sync``."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import Executor, ProcessPoolExecutor

from django.conf import settings

from attendance import faces

_lock = threading.Lock()
_pool: Executor | None = None


def _warm() -> None:
    faces._fr()


def _analyse(data: bytes, checks: bool) -> list[faces.Face]:
    return faces.analyse(data, checks=checks)


def executor() -> Executor | None:
    global _pool
    if settings.FACE_WORKERS <= 0:
        return None
    with _lock:
        if _pool is None:
            # spawn: a fresh interpreter, not a fork of a process holding sockets and threads.
            _pool = ProcessPoolExecutor(
                max_workers=settings.FACE_WORKERS,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm,
            )
        return _pool


async def analyse(data: bytes, *, checks: bool = True) -> list[faces.Face]:
    pool = executor()
    loop = asyncio.get_running_loop()
    if pool is None:
        return await loop.run_in_executor(None, _analyse, data, checks)
    return await loop.run_in_executor(pool, _analyse, data, checks)


def analyse_sync(data: bytes, *, checks: bool = True) -> list[faces.Face]:
    pool = executor()
    if pool is None:
        return _analyse(data, checks)
    return pool.submit(_analyse, data, checks).result()
