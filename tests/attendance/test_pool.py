"""The face process pool: its workers run niced, and a worker that dies is replaced."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from attendance import pool
from tests.helpers.faces import FACES

pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="face photos not found")


def _worker_pids(executor) -> list[int]:
    return list(executor._processes)  # the pids of its live workers


def _worker_nice() -> int:
    return os.nice(0)


@pytest.fixture
def real_pool(settings):
    settings.FACE_WORKERS = 1
    settings.FACE_WORKER_NICE = 7
    pool._pool = None
    yield
    if pool._pool is not None:
        pool._pool.shutdown(wait=True, cancel_futures=True)
    pool._pool = None


def test_workers_run_at_a_lower_priority(real_pool):
    executor = pool.executor()
    assert executor.submit(_worker_nice).result(timeout=120) == os.nice(0) + 7


def test_a_killed_worker_is_replaced_and_the_work_done(real_pool):
    data = (FACES / "obama_small.jpg").read_bytes()
    assert len(pool.analyse_sync(data, checks=False)) == 1
    first = pool.executor()
    for pid in _worker_pids(first):
        os.kill(pid, signal.SIGKILL)
    # The killed worker breaks the pool: the call is answered from a new one.
    assert len(pool.analyse_sync(data, checks=False)) == 1
    assert pool.executor() is not first
    second = pool.executor()
    for pid in _worker_pids(second):
        os.kill(pid, signal.SIGKILL)
    found = asyncio.run(pool.analyse(data, checks=False))
    assert len(found) == 1
    assert pool.executor() is not second


PARENT = """
import os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retail.settings")
django.setup()
from django.conf import settings
settings.FACE_WORKERS = 1
from attendance import pool
executor = pool.executor()
print(executor.submit(os.getpid).result(timeout=120), flush=True)
sys.stdin.read()
"""


def test_a_worker_ends_when_its_server_process_is_killed(tmp_path):
    """The server (the pool's parent) killed outright: its face worker does not live on."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        worker = int(parent.stdout.readline())
        os.kill(worker, 0)  # alive while its parent is
        parent.kill()
        parent.wait(timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.kill(worker, signal.SIGKILL)
            pytest.fail("the face worker outlived its killed parent")
    finally:
        parent.kill()
