"""The shared cache's window helpers (retail/cache.py) on the configured cache (Redis in CI)
and on the embedded default's local cache: a counter per window, and a marker that one caller
in all processes opens, which the process that opened it remembers."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from retail import cache as shared
from tests.retail.test_redis_down import caches_on_a_dead_redis, degraded

LOCAL = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "windows"},
    "sim": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "sim"},
}


@pytest.fixture(params=["configured", "local"])
def any_cache(request, settings):
    if request.param == "local":
        settings.CACHES = LOCAL
    return request.param


class Clock:
    def __init__(self, monkeypatch):
        self.now = 1_000.0
        monkeypatch.setattr(shared.time, "monotonic", lambda: self.now)


def test_the_counter_counts_each_call_and_lives_its_window(any_cache):
    assert [shared.count_in_window("w:count", 120) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert shared.count_in_window("w:other", 120) == 1
    assert cache.get("w:count") == 5
    if isinstance(caches["default"], RedisCache):  # the counter expires
        full = cache.make_and_validate_key("w:count")
        ttl = cache._cache.get_client(full).ttl(full)
        assert 0 < ttl <= 120


def test_one_caller_opens_a_window(any_cache, monkeypatch):
    Clock(monkeypatch)
    assert shared.first_in_window("w:push", 60) is True
    assert shared.first_in_window("w:push", 60) is False
    assert shared.first_in_window("w:push:other", 60) is True


def test_a_window_another_process_opened_is_found_in_the_shared_cache(any_cache, monkeypatch):
    Clock(monkeypatch)
    cache.add("w:theirs", 1, timeout=60)  # another process opened it
    assert shared.first_in_window("w:theirs", 60) is False
    cache.delete("w:theirs")  # their marker ended: the next caller opens a new window
    assert shared.first_in_window("w:theirs", 60) is True


def test_a_window_this_process_opened_asks_the_shared_cache_nothing_until_just_before_it_ends(
    any_cache, monkeypatch
):
    clock = Clock(monkeypatch)
    assert shared.first_in_window("w:mine", 60) is True
    cache.delete("w:mine")  # were the shared cache asked, it would answer "open a new window"
    clock.now += 58.9
    assert shared.first_in_window("w:mine", 60) is False  # remembered
    clock.now += 0.2  # within the last second: asked again, never trusted past its marker
    assert shared.first_in_window("w:mine", 60) is True


def test_the_process_memory_is_bounded(monkeypatch):
    Clock(monkeypatch)
    opened = shared._Opened()
    monkeypatch.setattr(shared._Opened, "MAX_ENTRIES", 10)
    for i in range(25):
        opened.remember(f"k{i}", 2_000.0)
    assert len(opened.until) <= 10 and opened.active("k24", 1_000.0)


def test_with_redis_down_the_window_opens_and_the_counter_says_so(settings, caplog):
    settings.CACHES = caches_on_a_dead_redis("retail.cache.FailOpenRedisCache")
    shared._last_warned.clear()
    with caplog.at_level(logging.WARNING, logger="retail.degraded"):
        assert shared.first_in_window("w:down", 60) is True  # callers queue their follow-up
        assert shared.first_in_window("w:down", 60) is True  # not remembered: it did not open
    assert any("Redis cache unreachable" in m for m in degraded(caplog))
    with pytest.raises(shared.CACHE_ERRORS):
        shared.count_in_window("w:down", 120)
