"""A real Celery worker for the tests that need one."""

from __future__ import annotations

import contextlib


def _forget_queues(app) -> None:
    # Celery caches the default queue and the routing table the first time it sends a task.
    for name in ("default_queue", "queues", "router"):
        app.amqp.__dict__.pop(name, None)


@contextlib.contextmanager
def real_worker():
    """A Celery worker thread consuming a fresh queue on the real broker, for the block."""
    import time

    from celery.contrib.testing.worker import start_worker

    from retail.celery import app

    app.conf.task_always_eager = False
    app.conf.task_default_queue = "test-" + str(time.time_ns())
    _forget_queues(app)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.task_default_queue = "celery"
        _forget_queues(app)
