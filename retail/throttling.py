"""API throttles that fail open: when their cache is unreachable the request goes through and a
warning is logged, so losing Redis never turns the API into a wall of 500s."""

from __future__ import annotations

from rest_framework import throttling

from retail.cache import CACHE_ERRORS, warn_degraded


class UserRateThrottle(throttling.UserRateThrottle):
    """DRF's per-user (per-address for anonymous callers) rate limit, failing open. A partner
    app's call is counted against its app's own limit instead (retail.partners.throttling)."""

    def allow_request(self, request, view):
        if getattr(request._request, "partner_app", None) is not None:
            return True
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            warn_degraded("API throttle cache unreachable", exc)
            return True
