"""Reads of webhook endpoints, deliveries and attempts, always within one brand (and, for a
partner app's call, within that app's own endpoints)."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.utils import timezone

from retail.models import Brand
from retail.tenancy import get_for_brand_or_404
from retail.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def endpoint_list(brand: Brand | int, *, app=None) -> QuerySet[WebhookEndpoint]:
    qs = WebhookEndpoint.objects.for_brand(brand).select_related("app").order_by("id")
    if app is not None:
        qs = qs.filter(app=app)
    return qs


def endpoint_get(brand: Brand | int, pk: int, *, app=None) -> WebhookEndpoint:
    """The endpoint, or 404 (also when it belongs to another app than ``app``)."""
    return get_for_brand_or_404(endpoint_list(brand, app=app), brand, pk=pk)


def delivery_list(
    brand: Brand | int, *, endpoint: WebhookEndpoint | int | None = None, status: str | None = None, app=None
) -> QuerySet[WebhookDelivery]:
    qs = WebhookDelivery.objects.for_brand(brand).select_related("event", "endpoint").order_by("-id")
    if endpoint is not None:
        qs = qs.filter(endpoint=endpoint)
    if status:
        qs = qs.filter(status=status)
    if app is not None:
        qs = qs.filter(endpoint__app=app)
    return qs


def delivery_get(brand: Brand | int, pk: int, *, app=None) -> WebhookDelivery:
    return get_for_brand_or_404(delivery_list(brand, app=app), brand, pk=pk)


def attempt_list(delivery: WebhookDelivery) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.for_brand(delivery.brand_id).filter(delivery=delivery).order_by("id")


def due_endpoint_ids(brand: Brand | int, now: datetime.datetime | None = None) -> list[int]:
    """Enabled endpoints of the brand with a delivery due now (what the sweep kicks)."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.for_brand(brand)
        .filter(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
            endpoint__enabled=True,
            endpoint__app__status="active",
        )
        .order_by()
        .values_list("endpoint_id", flat=True)
        .distinct()
    )
