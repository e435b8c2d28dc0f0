"""Losing Redis degrades, never breaks: with the cache on a port where nothing listens, the API
keeps answering (its throttle lets requests through) and a warning is logged."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache

from retail import cache as failopen
from retail import throttling
from tests.helpers.auth import login_as

pytestmark = pytest.mark.django_db

# Nothing listens on port 1: every connection is refused at once.
CLOSED = "redis://127.0.0.1:1/0"


def caches_on_a_dead_redis(backend: str) -> dict:
    return {
        "default": {"BACKEND": backend, "LOCATION": CLOSED, "OPTIONS": {"socket_connect_timeout": 1}},
        "sim": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "sim"},
    }


@pytest.fixture(autouse=True)
def _fresh_warnings():
    failopen._last_warned.clear()
    yield
    failopen._last_warned.clear()


def degraded(caplog) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "retail.degraded" and r.levelname == "WARNING"
    ]


def test_the_api_answers_when_its_throttle_cache_is_down(client, brand_admin, settings, caplog):
    # Django's own Redis cache (which raises): only the throttle stands between it and a 500.
    settings.CACHES = caches_on_a_dead_redis("django.core.cache.backends.redis.RedisCache")
    login_as(client, brand_admin)
    with caplog.at_level(logging.WARNING, logger="retail.degraded"):
        for _ in range(3):
            assert client.get("/api/v1/stores/").status_code == 200
            assert client.get("/api/v1/me/").status_code == 200
    warnings = degraded(caplog)
    assert len(warnings) == 1 and "API throttle cache unreachable" in warnings[0]


def test_the_api_answers_on_the_production_cache_with_redis_down(client, brand_admin, settings, caplog):
    settings.CACHES = caches_on_a_dead_redis("retail.cache.FailOpenRedisCache")
    login_as(client, brand_admin)
    with caplog.at_level(logging.WARNING, logger="retail.degraded"):
        assert client.get("/api/v1/stores/").status_code == 200
        assert client.get("/m/").status_code == 200
    assert any("Redis cache unreachable" in m for m in degraded(caplog))


def test_the_fail_open_cache_finds_nothing_drops_writes_and_warns_once_a_minute(settings, caplog):
    settings.CACHES = caches_on_a_dead_redis("retail.cache.FailOpenRedisCache")
    with caplog.at_level(logging.WARNING, logger="retail.degraded"):
        assert cache.get("k") is None and cache.get("k", "dflt") == "dflt"
        cache.set("k", 1)
        assert cache.add("k", 1) is False
        assert cache.incr("n", 3) == 3
        assert cache.get_many(["a", "b"]) == {}
        assert cache.has_key("k") is False
        assert cache.delete("k") is False
        cache.delete_many(["a"])
        assert cache.get_or_set("g", 7) == 7
    assert len(degraded(caplog)) == 1


def test_the_throttle_still_limits_while_its_cache_works(client, brand_admin, monkeypatch):
    monkeypatch.setattr(throttling.UserRateThrottle, "THROTTLE_RATES", {"user": "2/min"})
    login_as(client, brand_admin)  # the test's own cache keys (tests/conftest.py): no requests counted yet
    assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 429]


def test_a_partner_call_answers_with_redis_down(brand, brand_admin, settings, caplog):
    """The app's rate limit (counted straight on the Redis client) lets the call through, with a warning."""
    from django.test import Client

    from tests.helpers.partners import bearer, get_token, make_app

    app, secret = make_app(brand, brand_admin, scopes=("stores:read",))
    token = get_token(Client(), app, secret)
    settings.CACHES = caches_on_a_dead_redis("retail.cache.FailOpenRedisCache")
    with caplog.at_level(logging.WARNING, logger="retail.degraded"):
        resp = Client().get("/api/v1/stores/", **bearer(token))
    assert resp.status_code == 200, resp.content
    assert degraded(caplog)  # one warning a minute, whichever cache call met the outage first
