"""Face work off the event loop and off the request thread: a pool of worker processes.

Each worker imports face_recognition (and its models) once. settings.FACE_WORKERS sets the pool's
size; 0 runs the work in the calling thread (tests, and management commands that run alone).
``analyse`` is awaited by consumers; sync callers (a Celery task on the ``faces`` queue) call
``analyse_sync``.

Workers run at a lower CPU priority (``FACE_WORKER_NICE``, 10 by default): on a busy machine the
server's event loop (heartbeats, chat, pages) is served first and the face work takes what is left.
A worker that dies (killed, out of memory) breaks a ProcessPoolExecutor for good; the pool is then
replaced and the work tried once more in the new one. A worker whose server process is gone
ends itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from django.conf import settings

from attendance import faces

logger = logging.getLogger(__name__)

PARENT_CHECK_SECONDS = 1.0

_lock = threading.Lock()
_pool: Executor | None = None


def _watch_parent(parent: int) -> None:
    """End this worker when the process that started it is gone (killed, crashed): a worker
    process holds its task queue's write end itself, so it would otherwise wait for work forever."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _warm(nice: int = 0) -> None:
    threading.Thread(target=_watch_parent, args=(os.getppid(),), name="face-parent", daemon=True).start()
    if nice:
        with contextlib.suppress(OSError):  # not allowed here: run at the normal priority
            os.nice(nice)
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
                initargs=(settings.FACE_WORKER_NICE,),
            )
        return _pool


def _replace(broken: Executor) -> None:
    """Drop a broken pool (a worker died); the next call starts a new one."""
    global _pool
    with _lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)
    logger.warning("a face worker died; the face pool was replaced")


async def analyse(data: bytes, *, checks: bool = True) -> list[faces.Face]:
    pool = executor()
    loop = asyncio.get_running_loop()
    if pool is None:
        return await loop.run_in_executor(None, _analyse, data, checks)
    try:
        return await loop.run_in_executor(pool, _analyse, data, checks)
    except BrokenProcessPool:
        _replace(pool)
        return await loop.run_in_executor(executor(), _analyse, data, checks)


def analyse_sync(data: bytes, *, checks: bool = True) -> list[faces.Face]:
    pool = executor()
    if pool is None:
        return _analyse(data, checks)
    try:
        return pool.submit(_analyse, data, checks).result()
    except BrokenProcessPool:
        _replace(pool)
        return executor().submit(_analyse, data, checks).result()
