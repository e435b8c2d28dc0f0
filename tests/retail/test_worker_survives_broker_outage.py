"""A real Celery worker (the production command) rides out a Redis outage: a throwaway
redis-server is stopped under it and started again, and the same worker process is still alive
and runs a task sent afterwards. Bounded in time; skipped where redis-server is not installed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Celery

from retail.celery import app as retail_app
from tests.helpers.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs the redis-server binary")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int, workdir: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    wait_until(answers, 20, "redis-server to answer")
    return proc


def stop(proc: subprocess.Popen, group: bool = False) -> None:
    if proc.poll() is not None:
        return
    if group:
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait(timeout=5)


def send(broker: str, out: Path, word: str) -> None:
    sender = Celery(broker=broker)
    sender.conf.task_serializer = "json"
    try:
        sender.send_task("tests.worker_probe.write", args=[str(out), word])
    finally:
        sender.close()


def test_the_worker_reconnects_after_redis_comes_back(tmp_path):
    # The settings behind it: retry for ever, also on start-up.
    assert retail_app.conf.broker_connection_max_retries is None
    assert retail_app.conf.broker_connection_retry and retail_app.conf.broker_connection_retry_on_startup

    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    out, log = tmp_path / "ran.txt", tmp_path / "worker.log"
    out.touch()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "DJANGO_ENV"}
    }
    env.update(REDIS_URL=broker, DJANGO_SETTINGS_MODULE="retail.settings")
    redis = start_redis(port, tmp_path)
    worker = None
    try:
        with log.open("w") as log_file:
            # The worker command of docker-compose.yml, with one pool process and the probe task.
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "retail", "worker", "-l", "info"]
                + ["--without-gossip", "--without-mingle", "-c", "1", "-I", "tests.retail.worker_probe"],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        send(broker, out, "before")
        wait_until(lambda: "before" in out.read_text(), 90, "the worker to run the first task")

        stop(redis)
        wait_until(
            lambda: "Connection to broker lost" in log.read_text() or worker.poll() is not None,
            30,
            "the worker to notice the outage",
        )
        assert worker.poll() is None, log.read_text()[-3000:]

        redis = start_redis(port, tmp_path)
        send(broker, out, "after")
        wait_until(
            lambda: "after" in out.read_text() or worker.poll() is not None,
            90,
            "the worker to reconnect and run the second task",
        )
        text = log.read_text()
        assert worker.poll() is None, text[-3000:]
        assert out.read_text().split() == ["before", "after"]
        assert text.count("Connected to redis://") >= 2
        assert "Unrecoverable error" not in text and "AttributeError" not in text
    finally:
        if worker is not None:
            stop(worker, group=True)
        stop(redis)
