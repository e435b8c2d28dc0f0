"""The frames' database threads (retail/socket_db.py): a connection in steady use is not asked
whether it is alive on every frame; an idle one, one that had an error or one past its age is
tidied as Django tidies a request's; and the chat consumers skip channels' per-event hop to its
sync thread."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from django.db import DatabaseError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from retail import socket_db

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def health_checks(monkeypatch):
    """Every ``is_usable`` asked (the health check's ``SELECT 1``), by any thread."""
    asked = []
    cls = type(connections["default"])
    real = cls.is_usable

    def counting(self):
        asked.append(1)
        return real(self)

    monkeypatch.setattr(cls, "is_usable", counting)
    return asked


@pytest.fixture
def clock(monkeypatch):
    now = [1_000.0]
    monkeypatch.setattr(socket_db.time, "monotonic", lambda: now[0])
    return now


@pytest.fixture
def one_thread(settings, monkeypatch):
    """One frame thread (so every call meets the same connection), shut down after the test."""
    settings.SOCKET_DB_THREADS = 1
    monkeypatch.setattr(socket_db, "_executor", None)
    yield
    if socket_db._executor is not None:
        socket_db._executor.shutdown(wait=True)


def select_one() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
        return cur.fetchone()[0]


def frames(*fns):
    async def run():
        return [await socket_db.frame_db(fn)() for fn in fns]

    return async_to_sync(run)()


def test_a_connection_in_steady_use_is_not_asked_on_every_frame(one_thread, health_checks, clock):
    assert frames(*[select_one] * 5) == [1] * 5
    assert health_checks == []  # channels' database_sync_to_async asks before every call


def test_an_idle_connection_is_asked_once_before_its_next_frame(one_thread, health_checks, clock):
    frames(select_one)
    clock[0] += socket_db.ALIVE_SECONDS + 0.1
    frames(select_one, select_one)
    assert len(health_checks) == 1


def test_after_an_error_the_connection_is_checked_and_the_next_frame_works(one_thread, health_checks, clock):
    def bad():
        with connection.cursor() as cur:
            cur.execute("SELECT * FROM no_such_table_anywhere")

    with pytest.raises(DatabaseError):
        frames(bad)
    assert frames(select_one) == [1]
    assert len(health_checks) >= 1


@pytest.mark.skipif(connection.vendor == "sqlite", reason="Django keeps an in-memory SQLite open")
def test_a_connection_past_its_age_is_closed_after_the_frame(one_thread, settings, clock):
    seen = []

    def which():
        select_one()
        seen.append(connection.connection)  # kept: the object, not an id that may be reused
        connection.close_at = clock[0]  # CONN_MAX_AGE has run out

    frames(which)
    frames(which)
    assert seen[0] is not seen[1]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a server that drops the connection")
def test_a_connection_that_died_while_idle_is_replaced_before_the_next_frame(one_thread, clock):
    def pid():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            return cur.fetchone()[0]

    (first,) = frames(pid)
    with connection.cursor() as cur:  # another connection ends that backend, as a restart would
        cur.execute("SELECT pg_terminate_backend(%s)", [first])
    clock[0] += socket_db.ALIVE_SECONDS + 0.1
    (second,) = frames(pid)
    assert second != first


def test_the_chat_consumers_skip_channels_close_old_connections_hop(monkeypatch):
    from guides.messaging.consumers import ShopperChatConsumer, StaffChatConsumer

    hops = []

    async def hop():
        hops.append(1)

    monkeypatch.setattr("channels.consumer.aclose_old_connections", hop)
    for cls in (StaffChatConsumer, ShopperChatConsumer):
        consumer = cls()
        handled = []

        async def chat_message(event, handled=handled):
            handled.append(event)

        consumer.chat_message = chat_message
        asyncio.run(consumer.dispatch({"type": "chat.message", "message": {}}))
        assert handled and hops == []
        with pytest.raises(ValueError):
            asyncio.run(consumer.dispatch({"type": "no.such"}))
    assert issubclass(StaffChatConsumer, socket_db.FrameConsumer)
    assert BaseDatabaseWrapper.is_usable  # the health check the tests above count
