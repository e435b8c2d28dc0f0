"""Run the periodic jobs (CELERY_BEAT_SCHEDULE) in-process where there is no broker and no beat."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from retail.celery import app
from retail.periodic import Scheduler, logger, single_instance


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Command(BaseCommand):
    help = (
        "Run the periodic jobs of CELERY_BEAT_SCHEDULE in this process (polls, expiries, period "
        "closes, reconciliation) when tasks run eagerly, i.e. without a broker, worker and beat."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run the jobs due now, then exit")
        parser.add_argument(
            "--lock-file",
            default=str(settings.BASE_DIR / "var" / "run_periodic.lock"),
            help="only one scheduler holds this lock at a time",
        )
        parser.add_argument(
            "--watch-pid",
            type=int,
            default=None,
            help="exit when the process with this id ends (make run: the web server)",
        )

    def handle(self, *args, once: bool, lock_file: str, watch_pid: int | None, **options):
        if not app.conf.task_always_eager:
            self.stdout.write("run_periodic: a broker is configured, so Celery beat runs the schedule.")
            return
        app.autodiscover_tasks(force=True)  # every app's tasks module, as a worker loads them
        with single_instance(Path(lock_file)) as mine:
            if not mine:
                self.stdout.write("run_periodic: another scheduler is running on this machine.")
                return
            scheduler = Scheduler(settings.CELERY_BEAT_SCHEDULE, app=app)
            if once:
                scheduler.tick()
                return
            self._loop(scheduler, watch_pid)

    def _loop(self, scheduler: Scheduler, watch_pid: int | None) -> None:
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        logger.info("periodic jobs: %s", ", ".join(e.name for e in scheduler.entries))
        next_tick = 0.0
        try:
            while not stop.is_set():
                if watch_pid is not None and not _alive(watch_pid):
                    break
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + scheduler.tick()
                    close_old_connections()  # a long-lived process: drop broken or aged ones
                # Wake at least every second, to notice the watched process ending.
                stop.wait(min(max(next_tick - time.monotonic(), 0.0), 1.0))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
