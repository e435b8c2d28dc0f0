"""The partner activity log: a middleware around the request's transaction (listed before
retail.middleware.TenantMiddleware) writes each partner call once that transaction has ended,
so a call whose changes were rolled back is logged too. Writes and every error always; successful
reads sampled at settings.PARTNER_READ_SAMPLE_RATE. Adds the X-RateLimit-* headers."""

from __future__ import annotations

import datetime
import json
import logging
import random
import time

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from retail.partners.models import PartnerApp, PartnerCall
from retail.partners.throttling import rate_headers
from retail.tenancy import brand_scope
from retail.text import clean_text

logger = logging.getLogger(__name__)

READS = ("GET", "HEAD", "OPTIONS")
LAST_USED_EVERY = datetime.timedelta(seconds=60)


def _error_code(response) -> str:
    data = getattr(response, "data", None)
    if data is None and response.get("Content-Type", "").startswith("application/json"):
        content = getattr(response, "content", b"")
        if len(content) <= 16384:
            try:
                data = json.loads(content)
            except ValueError:
                data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return str(data["error"].get("code", ""))[:64]
    return ""


def _keep(method: str, status: int) -> bool:
    if method not in READS or status >= 400:
        return True
    rate = float(getattr(settings, "PARTNER_READ_SAMPLE_RATE", 0.1))
    return rate >= 1 or random.random() < rate


class PartnerActivityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        app = getattr(request, "partner_app", None)
        if app is None:
            return response
        for key, value in rate_headers(request).items():
            response[key] = value
        try:
            self._log(request, response, app, started)
        except (DatabaseError, ValueError):  # the log never costs the partner its answer
            logger.exception("partner call of app %s not logged", app.pk)
        return response

    def _log(self, request, response, app: PartnerApp, started: float) -> None:
        now = timezone.now()
        status = response.status_code
        keep = _keep(request.method, status)
        touch = app.last_used_at is None or now - app.last_used_at >= LAST_USED_EVERY
        if not (keep or touch):
            return
        with brand_scope(app.brand_id):
            if keep:
                match = getattr(request, "resolver_match", None)
                PartnerCall.objects.create(
                    brand_id=app.brand_id,
                    app=app,
                    method=request.method[:8],
                    path=clean_text(request.path, multiline=False)[:300],
                    route=((match.url_name or "") if match else "")[:100],
                    status=status,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    ip=request.META.get("REMOTE_ADDR") or None,
                    idempotency_key=clean_text(request.headers.get("Idempotency-Key", ""), multiline=False)[
                        :100
                    ],
                    error_code=_error_code(response) if status >= 400 else "",
                    at=now,
                )
            if touch:
                PartnerApp.objects.filter(pk=app.pk).update(last_used_at=now)
