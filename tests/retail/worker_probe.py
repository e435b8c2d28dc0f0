"""A task for the broker-outage test: it leaves a word in a file, so the test sees it ran."""

from pathlib import Path

from celery import shared_task


@shared_task(name="tests.worker_probe.write")
def write(path: str, word: str) -> None:
    with Path(path).open("a") as f:
        f.write(word + "\n")
