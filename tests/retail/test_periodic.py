"""Periodic jobs run in the embedded default too: run_periodic runs the beat schedule's due
entries (intervals and crontabs) once each, survives a failing job, keeps to one scheduler,
and `make run` starts it beside the web server."""

from __future__ import annotations

import io
import logging
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery import shared_task
from celery.schedules import crontab
from django.core.management import call_command

from retail.celery import app
from retail.management.commands.run_periodic import Command
from retail.periodic import Scheduler, single_instance

ROOT = Path(__file__).resolve().parents[2]
CALLS: list[str] = []


@shared_task(name="tests.periodic.record")
def record(word: str) -> None:
    CALLS.append(word)


@shared_task(name="tests.periodic.fail")
def fail() -> None:
    raise RuntimeError("the job broke")


SCHEDULE = {
    "poll": {"task": "tests.periodic.record", "schedule": 60.0, "args": ("poll",)},
    "close": {"task": "tests.periodic.record", "schedule": crontab(minute=7), "args": ("close",)},
    "broken": {"task": "tests.periodic.fail", "schedule": 60.0},
}


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()
    yield
    CALLS.clear()


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def failures(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "retail.periodic" and r.levelname == "ERROR"]


def test_due_entries_run_once_each_on_their_interval_or_crontab(caplog):
    clock = Clock(datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC))
    scheduler = Scheduler(SCHEDULE, app=app, clock=clock)

    scheduler.tick()  # at start: the interval jobs run, the crontab job waits for its minute
    assert CALLS == ["poll"]
    assert failures(caplog) == ["periodic job broken (tests.periodic.fail) failed"]

    clock.now += timedelta(seconds=30)
    scheduler.tick()
    assert CALLS == ["poll"]  # nothing is due yet

    clock.now = datetime(2026, 3, 1, 10, 1, 0, tzinfo=UTC)
    scheduler.tick()
    assert CALLS == ["poll", "poll"]

    clock.now = datetime(2026, 3, 1, 10, 7, 0, tzinfo=UTC)
    scheduler.tick()
    clock.now += timedelta(seconds=10)
    scheduler.tick()
    assert CALLS == ["poll", "poll", "poll", "close"]  # 10:07 comes once
    assert len(failures(caplog)) == 3  # the broken job was tried each minute, the rest carried on


def test_the_command_runs_the_due_jobs_of_the_settings_schedule_once(settings, tmp_path, caplog):
    settings.CELERY_BEAT_SCHEDULE = SCHEDULE
    call_command("run_periodic", "--once", "--lock-file", str(tmp_path / "lock"), stdout=io.StringIO())
    assert CALLS == ["poll"]
    assert len(failures(caplog)) == 1


def test_only_one_scheduler_runs_at_a_time(settings, tmp_path):
    settings.CELERY_BEAT_SCHEDULE = SCHEDULE
    lock = tmp_path / "lock"
    out = io.StringIO()
    with single_instance(lock) as mine:
        assert mine
        call_command("run_periodic", "--once", "--lock-file", str(lock), stdout=out)
    assert CALLS == [] and "another scheduler" in out.getvalue()


def test_with_a_broker_celery_beat_runs_the_schedule_instead(settings, tmp_path):
    settings.CELERY_BEAT_SCHEDULE = SCHEDULE
    app.conf.task_always_eager = False  # tests/conftest.py puts it back after the test
    out = io.StringIO()
    call_command("run_periodic", "--once", "--lock-file", str(tmp_path / "lock"), stdout=out)
    assert CALLS == [] and "Celery beat" in out.getvalue()


def test_the_loop_ends_with_the_process_it_watches(caplog):
    ended = subprocess.Popen(["true"])
    ended.wait()
    scheduler = Scheduler({"poll": SCHEDULE["poll"]}, app=app)
    with caplog.at_level(logging.INFO, logger="retail.periodic"):
        Command()._loop(scheduler, watch_pid=ended.pid)  # returns: the server is gone
    assert CALLS == []


def test_make_run_starts_the_scheduler_beside_the_web_server():
    dry = subprocess.run(
        ["make", "-n", "-o", "seed", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert dry.returncode == 0, dry.stderr
    assert re.search(r"manage\.py run_periodic --watch-pid \$\$ &", dry.stdout)
    assert re.search(r"exec \S+ -m uvicorn retail\.asgi:application", dry.stdout)
