"""The Redis cache shares one client and its connection pool across the process.

Django builds a cache backend per thread and per asyncio task; each used to open its own pool,
so every chat socket and every ASGI request held a Redis connection of its own."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.core.cache import caches

from retail.cache import FailOpenRedisCache, SharedRedisCacheClient

pytestmark = pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="the production cache needs Redis (REDIS_URL)"
)


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "retail.cache.FailOpenRedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": "shared-client-test",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        },
        "sim": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "sim"},
    }
    backend = caches["default"]
    assert isinstance(backend, FailOpenRedisCache)
    return backend


def _use_cache(n: int) -> tuple[int, int]:
    """Write and read through this context's cache backend; answer which backend and client."""
    backend = caches["default"]
    backend.set(f"k{n}", n, 30)
    assert backend.get(f"k{n}") == n
    return id(backend), id(backend._cache)


def test_tasks_and_threads_each_get_a_backend_but_all_share_one_client_and_pool(redis_cache):
    async def many_tasks():
        return await asyncio.gather(*(sync_to_async(_use_cache)(n) for n in range(40)))

    seen = asyncio.run(many_tasks())
    threads_seen = []
    threads = [
        threading.Thread(target=lambda n=n: threads_seen.append(_use_cache(100 + n))) for n in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen += threads_seen

    assert len(seen) == 50
    assert len({backend for backend, _ in seen}) > 1  # Django's per-context backends...
    assert {client for _, client in seen} == {id(redis_cache._cache)}  # ...share one client
    client = redis_cache._cache
    assert isinstance(client, SharedRedisCacheClient)
    assert list(client._pools) == [0]  # one pool (one server: reads and writes share it)
    pool = client._pools[0]
    # The contexts ran one at a time on asgiref's thread and at most ten at once on threads: the
    # pool opened no more connections than ran at once, not one per task.
    assert len(pool._available_connections) + len(pool._in_use_connections) <= 11


def test_operations_reuse_one_redis_client_per_pool(redis_cache):
    client = redis_cache._cache
    first = client.get_client("a", write=True)
    assert client.get_client("b", write=True) is first
    assert client.get_client("c") is first  # one server: reads go to the same pool


def test_a_different_configuration_gets_its_own_client(redis_cache, settings):
    shared = redis_cache._cache
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "OPTIONS": {"socket_connect_timeout": 3}},
    }
    other = caches["default"]
    assert other._cache is not shared
    assert other._cache._get_connection_pool(True).connection_kwargs["socket_connect_timeout"] == 3
