"""Recording webhook events inside the transaction of the change.

``retail.outbox.emit`` calls ``record`` synchronously, before the commit: when an enabled endpoint
of the brand (of an active app) subscribes to a public event type made from this outbox event,
one ``WebhookEvent`` and one ``WebhookDelivery`` per such endpoint are inserted in the same
transaction. The deliveries are the outbox: a rollback leaves nothing, a commit leaves them for
the delivery engine even if the process dies right after. On commit each endpoint's delivery
task is queued (``kick``, de-duplicated for a few seconds); the beat sweep finds whatever a lost
kick left behind.
"""

from __future__ import annotations

import functools
import logging

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from retail import payments
from retail.tenancy import brand_scope, within_brand
from retail.webhooks import catalogue
from retail.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)

KICK_DEDUP_SECONDS = 5


def livemode() -> bool:
    """False for events caused by a partner app in test mode (its calls run with the simulated
    providers only, retail.payments.simulated_providers)."""
    return not payments.simulated_only()


def subscribed_endpoints(
    brand_id: int, event_type: str, subscriptions: dict | None = None
) -> list[WebhookEndpoint]:
    """Enabled endpoints of the brand's active apps that subscribe to ``event_type``.
    ``subscriptions`` (brand id → its endpoints), when given, is read and filled instead of asking
    the database again: one batch of events (``retail.outbox.emit_many``) asks once per brand."""
    if subscriptions is not None and brand_id in subscriptions:
        endpoints = subscriptions[brand_id]
    else:
        endpoints = list(
            WebhookEndpoint.objects.for_brand(brand_id)
            .filter(enabled=True, app__status="active")
            .only("id", "event_types")
            .order_by("id")
        )
        if subscriptions is not None:
            subscriptions[brand_id] = endpoints
    return [e for e in endpoints if event_type in (e.event_types or [])]


def record(brand_id: int, name: str, payload: dict, subscriptions: dict | None = None) -> list[WebhookEvent]:
    """Record the public events made from outbox event ``name``, for the endpoints that want them
    (``subscriptions``: see ``subscribed_endpoints``)."""
    types = catalogue.for_source(name)
    if not types:
        return []
    recorded = []
    # The caller's transaction when it runs in this brand's scope (a request's, a service's
    # brand_scope); otherwise one of our own (brand_context alone sets no database setting).
    scope = within_brand(brand_id) if connection.in_atomic_block else brand_scope(brand_id)
    with scope:
        for event_type in types:
            endpoints = subscribed_endpoints(brand_id, event_type.name, subscriptions)
            if not endpoints:
                continue
            try:
                # A savepoint: a webhook that cannot be built never fails the change it reports.
                with transaction.atomic():
                    data = event_type.build(brand_id, payload)
                    if data is None:
                        continue
                    recorded.append(
                        record_event(brand_id=brand_id, type=event_type.name, data=data, endpoints=endpoints)
                    )
            except Exception:
                logger.exception("webhook event %s of brand %s not recorded", event_type.name, brand_id)
    return recorded


def record_event(
    *, brand_id: int, type: str, data: dict, endpoints: list[WebhookEndpoint], manual: bool = False
) -> WebhookEvent:
    """Insert one event and a due delivery to each endpoint; queue their delivery on commit."""
    now = timezone.now()
    event = WebhookEvent.objects.create(
        brand_id=brand_id, type=type, data=data, livemode=livemode(), created_at=now
    )
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                brand_id=brand_id,
                event=event,
                endpoint_id=e.pk,
                next_attempt_at=now,
                manual=manual,
                created_at=now,
            )
            for e in endpoints
        ]
    )
    for e in endpoints:
        transaction.on_commit(functools.partial(kick, brand_id, e.pk))
    return event


def kick(brand_id: int, endpoint_id: int) -> None:
    """Queue the endpoint's delivery task, unless it was queued in the last few seconds and has
    not started yet (the task clears the mark when it starts)."""
    if not cache.add(kick_key(endpoint_id), 1, timeout=KICK_DEDUP_SECONDS):
        return
    from retail.webhooks import tasks

    tasks.deliver_endpoint.delay(brand_id, endpoint_id)


def kick_key(endpoint_id: int) -> str:
    return f"webhooks:kick:{endpoint_id}"
