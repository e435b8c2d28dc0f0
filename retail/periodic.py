"""Periodic jobs without a broker: the embedded default's stand-in for Celery beat.

With no Redis there is no beat and no worker (tasks run eagerly), so ``manage.py run_periodic``
(started by ``make run``) runs the same ``CELERY_BEAT_SCHEDULE`` in-process: each entry's
schedule (an interval in seconds or a crontab) decides when it is due, exactly as beat decides,
and the task runs right there. Interval jobs run once at start and then every interval; crontab
jobs wait for their next time. A failing job is logged and the others carry on. A file lock
keeps it to one scheduler per machine.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from celery.schedules import BaseSchedule, crontab, maybe_schedule
from django.utils import timezone

logger = logging.getLogger("retail.periodic")


@dataclass
class Entry:
    name: str
    task: str
    schedule: BaseSchedule
    args: tuple = ()
    kwargs: dict | None = None
    last_run_at: datetime | None = None


class Scheduler:
    """Runs the due entries of a beat schedule; ``clock`` says what time it is."""

    def __init__(self, schedule: dict, *, app, clock: Callable[[], datetime] = timezone.now):
        self.app = app
        self.clock = clock
        self.entries = []
        for name, spec in schedule.items():
            sched = copy.copy(maybe_schedule(spec["schedule"], app=app))
            sched.nowfun = clock  # the schedule asks this clock what time it is
            self.entries.append(
                Entry(name, spec["task"], sched, tuple(spec.get("args", ())), spec.get("kwargs"))
            )

    def _first_last_run(self, entry: Entry, now: datetime) -> datetime:
        if isinstance(entry.schedule, crontab):
            return now  # wait for the next matching time, as a fresh beat does
        return now - entry.schedule.run_every  # due at once, then every interval

    def tick(self) -> float:
        """Run every due entry once; return the seconds until something may be due next."""
        now = self.clock()
        wait = 60.0
        for entry in self.entries:
            if entry.last_run_at is None:
                entry.last_run_at = self._first_last_run(entry, now)
            due, next_in = entry.schedule.is_due(entry.last_run_at)
            if due:
                entry.last_run_at = now
                self.run(entry)
                due, next_in = entry.schedule.is_due(entry.last_run_at)
            wait = min(wait, max(float(next_in), 1.0))
        return wait

    def run(self, entry: Entry) -> None:
        """Run one job in this process; a failure is logged, never raised."""
        logger.debug("periodic job %s (%s) starts", entry.name, entry.task)
        try:
            self.app.tasks[entry.task].apply(args=entry.args, kwargs=entry.kwargs or {}, throw=True)
        except Exception:
            logger.exception("periodic job %s (%s) failed", entry.name, entry.task)


@contextlib.contextmanager
def single_instance(lock_path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on ``lock_path`` for the block; yields False if another holds it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
