"""The outbox: how work leaves a transaction. Events go to their subscribers, named tasks to the
queue, both only once the transaction commits (nothing on rollback).

An app announces a change with ``emit(brand_id=..., name="order.paid", payload={...})`` in the
transaction of the change, after writing its own event row there (``cloudstore.OrderEvent``,
``guides.Event``, ``redpackets.Event``: what webhooks will read). Every event name and its
subscribers are listed in one place, ``settings.OUTBOX_SUBSCRIBERS``, as dotted paths resolved
on first use, so the kernel imports no app. Every subscriber has one signature::

    def on_order_paid(*, brand_id: int, name: str, payload: dict) -> None: ...

Services queue their own app's Celery tasks with ``enqueue_on_commit("app.tasks.name", ...)``
by name, so that tasks import services and never the reverse.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib import import_module
from typing import Any, Protocol

from celery import Task
from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from retail import payments
from retail.celery import app as celery_app


class Subscriber(Protocol):
    def __call__(self, *, brand_id: int, name: str, payload: dict) -> None: ...


@functools.cache
def _resolve(path: str) -> Subscriber:
    return import_string(path)


def subscribers(name: str) -> list[Subscriber]:
    """The subscribers of event ``name``; an unknown name is a programming error."""
    try:
        entries = settings.OUTBOX_SUBSCRIBERS[name]
    except KeyError:
        raise LookupError(f"outbox event {name!r} is not listed in settings.OUTBOX_SUBSCRIBERS") from None
    return [entry if callable(entry) else _resolve(entry) for entry in entries]


def emit(*, brand_id: int, name: str, payload: dict) -> None:
    """Call every subscriber of ``name`` after the current transaction commits.

    Webhooks are recorded right away, in the current transaction (retail.webhooks.recording:
    an event and its deliveries only where an endpoint subscribes), so a rollback leaves none."""
    _emit(brand_id, name, payload, None)


def emit_many(events: Iterable[tuple[int, str, dict]]) -> None:
    """``emit`` for each ``(brand_id, name, payload)`` of one change (a batch written at once):
    the brands' webhook subscriptions are read once for the whole batch, not once per event."""
    subscriptions: dict = {}
    for brand_id, name, payload in events:
        _emit(brand_id, name, payload, subscriptions)


def _emit(brand_id: int, name: str, payload: dict, subscriptions: dict | None) -> None:
    listeners = subscribers(name)
    _record_webhooks()(brand_id, name, payload, subscriptions)
    for fn in listeners:
        transaction.on_commit(functools.partial(fn, brand_id=brand_id, name=name, payload=payload))


@functools.cache
def _record_webhooks():
    from django.apps import apps

    if not apps.is_installed("retail.webhooks"):
        return lambda brand_id, name, payload, subscriptions=None: None
    from retail.webhooks.recording import record

    return record


# The message header that makes a task run against the simulated providers only (queued by a
# test-mode partner call, see retail.payments.simulated_providers; honoured by BrandTask).
SIMULATED_HEADER = "retail_simulated_providers"


def enqueue_on_commit(task_name: str, *args: Any, countdown: float | None = None) -> None:
    """Queue the Celery task registered as ``task_name`` after the current transaction commits."""
    simulated = payments.simulated_only()
    transaction.on_commit(functools.partial(_send, task_name, args, countdown, simulated))


def _send(task_name: str, args: tuple, countdown: float | None, simulated: bool = False) -> None:
    task = _task(task_name)
    if simulated:
        task.apply_async(args, countdown=countdown, headers={SIMULATED_HEADER: True})
    elif countdown is None:
        task.delay(*args)
    else:
        task.apply_async(args, countdown=countdown)


def _task(task_name: str) -> Task:
    if task_name not in celery_app.tasks:
        # Tasks register when their module is imported; Celery names them "module.function".
        import_module(task_name.rpartition(".")[0])
    return celery_app.tasks[task_name]
