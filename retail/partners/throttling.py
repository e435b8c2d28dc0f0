"""The rate limit of partner apps: a fixed one-minute window per app, counted in the cache."""

from __future__ import annotations

import math
import time

from rest_framework.throttling import BaseThrottle

from retail.cache import CACHE_ERRORS, count_in_window, warn_degraded

WINDOW_SECONDS = 60


def clock() -> float:
    """The time the windows are counted in (a function, so tests can hold it still)."""
    return time.time()


def _window(now: float) -> tuple[int, int]:
    start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    return start, start + WINDOW_SECONDS


def _count(key: str) -> int:
    return count_in_window(key, WINDOW_SECONDS * 2)


def rate_headers(request) -> dict[str, str]:
    """X-RateLimit-* headers of a partner call the throttle counted (else none)."""
    state = getattr(request, "partner_rate", None)
    if state is None:
        return {}
    limit, remaining, reset = state
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, remaining)),
        "X-RateLimit-Reset": str(reset),
    }


class PartnerRateThrottle(BaseThrottle):
    """Partner calls only: at most ``app.rate_limit_per_minute`` calls per app in each clock
    minute; over it, a 429 ``rate_limited`` with ``Retry-After`` to the minute's end. Fails open
    (with a warning) while the cache is unreachable."""

    def __init__(self):
        self.wait_seconds: float | None = None

    def allow_request(self, request, view) -> bool:
        django_request = request._request
        app = getattr(django_request, "partner_app", None)
        if app is None:
            return True
        now = clock()
        start, reset = _window(now)
        key = f"partner-rate:{app.pk}:{start}"
        try:
            count = _count(key)
        except ValueError:  # the counter vanished between add and incr (evicted): count afresh
            count = 1
        except CACHE_ERRORS as exc:
            warn_degraded("Partner rate limit cache unreachable", exc)
            return True
        limit = app.rate_limit_per_minute
        django_request.partner_rate = (limit, limit - count, reset)
        if count <= limit:
            return True
        self.wait_seconds = max(1, math.ceil(reset - now))
        return False

    def wait(self) -> float | None:
        return self.wait_seconds
