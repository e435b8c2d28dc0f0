"""The Redis cache fails open: losing Redis degrades, never breaks.

Everything the default cache holds can be lost (throttle counters, progress mirrors, one-time
codes), so while Redis is unreachable a read finds nothing, a write is dropped and a warning
is logged (at most once a minute per kind of failure), instead of every request answering 500.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("retail.degraded")

# What an unreachable cache raises: Redis's own connection errors, and the OS's for the
# file-based cache.
CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

WARN_EVERY_SECONDS = 60
_last_warned: dict[str, float] = {}
_lock = threading.Lock()
_clients_lock = threading.Lock()


def warn_degraded(what: str, exc: BaseException) -> None:
    """Log that ``what`` carries on without its backing service; at most once a minute each."""
    now = time.monotonic()
    with _lock:
        last = _last_warned.get(what)
        if last is not None and now - last < WARN_EVERY_SECONDS:
            return
        _last_warned[what] = now
    logger.warning("%s: carrying on without it (%s: %s)", what, type(exc).__name__, exc)


class SharedRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client that hands out one ``Redis`` client per connection pool
    instead of building one for every operation (redis-py's clients and pools are thread-safe;
    a pool starts afresh in a forked child)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            with _clients_lock:
                client = self._clients.get(index)
                if client is None:
                    client = self._clients[index] = self._client(
                        connection_pool=self._get_connection_pool(write)
                    )
        return client


# One cache client per configuration, for the whole process.
_shared_clients: dict[tuple, SharedRedisCacheClient] = {}


class FailOpenRedisCache(RedisCache):
    """Django's Redis cache whose operations answer "nothing cached" while Redis is down.

    Django builds a cache backend per thread and per asyncio task (``caches`` is an asgiref
    ``Local``), and each would open its own connection pool: one Redis connection per chat
    socket and per ASGI request. Every instance here shares the process's one client and its
    pools instead."""

    @cached_property
    def _cache(self):
        config = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _shared_clients.get(config)
        if client is None:
            with _clients_lock:
                client = _shared_clients.get(config)
                if client is None:
                    client = _shared_clients[config] = SharedRedisCacheClient(self._servers, **self._options)
        return client

    def _degraded(self, exc: BaseException, fallback):
        warn_degraded("Redis cache unreachable", exc)
        return fallback

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version)
        except CACHE_ERRORS as exc:
            return self._degraded(exc, False)

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except CACHE_ERRORS as exc:
            return self._degraded(exc, default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            super().set(key, value, timeout, version)
        except CACHE_ERRORS as exc:
            self._degraded(exc, None)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout, version)
        except CACHE_ERRORS as exc:
            return self._degraded(exc, False)

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except CACHE_ERRORS as exc:
            return self._degraded(exc, False)

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except CACHE_ERRORS as exc:
            return self._degraded(exc, {})

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except CACHE_ERRORS as exc:
            return self._degraded(exc, False)

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except CACHE_ERRORS as exc:
            # As if the counter had just been created: limits built on it let the caller through.
            return self._degraded(exc, delta)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except CACHE_ERRORS as exc:
            return self._degraded(exc, list(data))

    def delete_many(self, keys, version=None):
        try:
            super().delete_many(keys, version)
        except CACHE_ERRORS as exc:
            self._degraded(exc, None)

    def clear(self):
        try:
            return super().clear()
        except CACHE_ERRORS as exc:
            return self._degraded(exc, False)


class NearCache:
    """A few seconds' copy, in this process, of values a hot path reads from the shared cache on
    every call (a brand's settings on every chat message). Keys are the shared cache's full keys
    (its prefix and version included). ``delete`` drops this process's copy; other processes'
    copies live out their ``seconds``, which is how stale a value can be after a change."""

    MAX_ENTRIES = 10_000

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._entries: dict[str, tuple[float, object]] = {}

    def get(self, key: str):
        from django.core.cache import cache

        found = self._entries.get(cache.make_key(key))
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def set(self, key: str, value) -> None:
        from django.core.cache import cache

        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[cache.make_key(key)] = (time.monotonic() + self.seconds, value)

    def delete(self, key: str) -> None:
        from django.core.cache import cache

        self._entries.pop(cache.make_key(key), None)


def count_in_window(key: str, seconds: int) -> int:
    """Add one to the counter ``key`` (a fixed window's key names its window) and answer the
    count; the counter lives ``seconds`` from the window's first call. On Redis one round trip
    (INCR; the window's first call also sets the EXPIRE, and a counter whose EXPIRE was lost with
    its process names a window that ends and is never counted again), elsewhere (the embedded
    default's local cache) through the cache API. Raises CACHE_ERRORS while Redis is
    unreachable: the caller decides how its limit fails open."""
    from django.core.cache import caches

    cache = caches["default"]  # the backend itself (``django.core.cache.cache`` is a proxy)
    if isinstance(cache, RedisCache):
        full = cache.make_and_validate_key(key)
        client = cache._cache.get_client(full, write=True)
        count = int(client.incr(full))
        if count == 1:  # the window's first call gives its counter a lifetime
            client.expire(full, seconds)
        return count
    try:
        return cache.incr(key)
    except ValueError:  # the window's first call: start its counter
        if cache.add(key, 1, timeout=seconds):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=seconds)
            return 1


class _Opened:
    """The windows this process opened (full key → when its marker ends, monotonic)."""

    MAX_ENTRIES = 10_000

    def __init__(self):
        self.until: dict[str, float] = {}

    def active(self, full: str, now: float) -> bool:
        ends = self.until.get(full)
        return ends is not None and now < ends

    def remember(self, full: str, ends: float) -> None:
        if len(self.until) >= self.MAX_ENTRIES:
            now = time.monotonic()
            self.until = {k: v for k, v in self.until.items() if v > now}
            if len(self.until) >= self.MAX_ENTRIES:
                self.until.clear()
        self.until[full] = ends


_opened = _Opened()
# How much earlier than its marker this process forgets a window it opened, so that it never
# takes a window for open that has ended in the shared cache.
OPENED_MARGIN_SECONDS = 1.0


def first_in_window(key: str, seconds: int) -> bool:
    """True for the one call, across all processes, that opens the window ``key`` (a marker in
    the shared cache that lives ``seconds``); False for the calls after it until the marker
    ends. A window this process opened is remembered here, so the calls inside it ask the shared
    cache nothing. While Redis is unreachable: True (with a warning), so callers that queue
    follow-up work queue it rather than lose it."""
    from django.core.cache import caches

    cache = caches["default"]  # the backend itself (``django.core.cache.cache`` is a proxy)
    full = cache.make_key(key)
    now = time.monotonic()
    if _opened.active(full, now):
        return False
    if isinstance(cache, RedisCache):
        try:
            client = cache._cache.get_client(full, write=True)
            first = bool(client.set(full, 1, nx=True, ex=seconds))
        except CACHE_ERRORS as exc:
            warn_degraded("Redis cache unreachable", exc)
            return True
    else:
        first = cache.add(key, 1, timeout=seconds)
    if first:
        _opened.remember(full, now + seconds - OPENED_MARGIN_SECONDS)
    return first
