"""Audit entries of webhook endpoints, written in the transaction of the change."""

from __future__ import annotations

from retail.events import Actor, record
from retail.models import Brand


def _endpoint(*, brand: Brand | int, actor: Actor | None, action: str, endpoint, data: dict | None = None):
    return record(
        brand=brand if isinstance(brand, Brand) else Brand.objects.get(pk=brand),
        actor=actor,
        action=action,
        target=endpoint,
        target_repr=f"{endpoint.url}"[:200],
        data={"app": endpoint.app_id, **(data or {})},
    )


def endpoint_created(*, brand, actor, endpoint):
    return _endpoint(
        brand=brand,
        actor=actor,
        action="webhook.endpoint_created",
        endpoint=endpoint,
        data={"event_types": endpoint.event_types},
    )


def endpoint_updated(*, brand, actor, endpoint, changes: dict):
    return _endpoint(
        brand=brand,
        actor=actor,
        action="webhook.endpoint_updated",
        endpoint=endpoint,
        data={"changes": changes},
    )


def endpoint_secret_rotated(*, brand, actor, endpoint):
    expires = endpoint.previous_secret_expires_at
    return _endpoint(
        brand=brand,
        actor=actor,
        action="webhook.secret_rotated",
        endpoint=endpoint,
        data={"previous_valid_until": expires.isoformat() if expires else None},
    )


def endpoint_deleted(*, brand, actor, endpoint):
    return _endpoint(brand=brand, actor=actor, action="webhook.endpoint_deleted", endpoint=endpoint)


def endpoint_disabled(*, brand, actor, endpoint, reason: str):
    return _endpoint(
        brand=brand,
        actor=actor,
        action="webhook.endpoint_disabled",
        endpoint=endpoint,
        data={"reason": reason},
    )


def delivery_replayed(*, brand, actor, delivery):
    return _endpoint(
        brand=brand,
        actor=actor,
        action="webhook.delivery_replayed",
        endpoint=delivery.endpoint,
        data={"event": str(delivery.event_id), "delivery": delivery.pk},
    )


def test_event_sent(*, brand, actor, delivery):
    return _endpoint(
        brand=brand,
        actor=actor,
        action="webhook.test_sent",
        endpoint=delivery.endpoint,
        data={"event": str(delivery.event_id), "delivery": delivery.pk},
    )
