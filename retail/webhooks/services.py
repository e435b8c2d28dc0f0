"""Writes of webhook endpoints: create, change, rotate the signing secret, delete; replay a
delivery, send a test event; the notice when an endpoint was disabled for failing.

Each owns its brand-scoped transaction and writes its audit entry there; deliveries are queued
after commit (recording.kick)."""

from __future__ import annotations

import datetime
import functools
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from retail.events import Actor
from retail.models import Brand, Staff
from retail.notify import get_sender
from retail.tenancy import brand_scope
from retail.webhooks import catalogue, engine, events, recording, selectors
from retail.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from retail.webhooks.sender import validate_url

MAX_EVENT_TYPES = 50


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _max_endpoints() -> int:
    return int(getattr(settings, "WEBHOOK_MAX_ENDPOINTS_PER_APP", 20))


def _clean_url(url) -> str:
    try:
        return validate_url(url)
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from None


def clean_event_types(event_types) -> list[str]:
    """The subscribed event type names, each known, once each, in the order given."""
    if not isinstance(event_types, list | tuple) or not event_types:
        raise ValidationError({"event_types": [_("Choose at least one event type.")]})
    if len(event_types) > MAX_EVENT_TYPES:
        raise ValidationError({"event_types": [_("Too many event types.")]})
    known = catalogue.event_types()
    names = [str(t) for t in event_types]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValidationError(
            {
                "event_types": [
                    _("Unknown event types: %(names)s.") % {"names": ", ".join(sorted(set(unknown)))}
                ]
            }
        )
    return list(dict.fromkeys(names))


def _clean_description(description) -> str:
    description = (description or "").strip()
    if len(description) > 200:
        raise ValidationError({"description": [_("At most 200 characters.")]})
    return description


def _check_app(brand: Brand, app) -> None:
    if app is None or app.brand_id != brand.pk:
        raise ValidationError({"app": [_("Choose an app of this brand.")]})
    if app.status != "active":
        raise ValidationError({"app": [_("This app is revoked.")]})


def endpoint_create(
    *, brand: Brand, actor: Actor, app, url: str, event_types: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint of ``app``; returns it and its signing secret (shown this once)."""
    _check_app(brand, app)
    url = _clean_url(url)
    event_types = clean_event_types(event_types)
    description = _clean_description(description)
    secret = new_secret()
    with brand_scope(brand):
        if WebhookEndpoint.objects.filter(app=app).count() >= _max_endpoints():
            raise ValidationError(
                {"url": [_("An app has at most %(n)d endpoints.") % {"n": _max_endpoints()}]},
                code="too_many_endpoints",
            )
        endpoint = WebhookEndpoint.objects.create(
            brand=brand, app=app, url=url, event_types=event_types, description=description, secret=secret
        )
        events.endpoint_created(brand=brand, actor=actor, endpoint=endpoint)
    return endpoint, secret


def _locked(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return (
        WebhookEndpoint.objects.select_for_update(of=("self",))
        .select_related("app")
        .get(pk=endpoint.pk, brand_id=endpoint.brand_id)
    )


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Actor,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given. Enabling again clears the failure record, gives up deliveries past
    the retry window and sends the rest; disabling by hand keeps them pending."""
    url = _clean_url(url) if url is not None else None
    event_types = clean_event_types(event_types) if event_types is not None else None
    description = _clean_description(description) if description is not None else None
    with brand_scope(endpoint.brand_id):
        ep = _locked(endpoint)
        now = timezone.now()
        changes: dict = {}
        for name, value in (("url", url), ("event_types", event_types), ("description", description)):
            if value is not None and getattr(ep, name) != value:
                changes[name] = value
                setattr(ep, name, value)
        if enabled is not None and enabled != ep.enabled:
            changes["enabled"] = enabled
            if enabled:
                if ep.app.status != "active":
                    raise ValidationError({"enabled": [_("The app of this endpoint is revoked.")]})
                ep.enabled, ep.disabled_reason, ep.disabled_at, ep.failing_since = True, "", None, None
                WebhookDelivery.objects.filter(
                    endpoint=ep,
                    status=WebhookDelivery.Status.PENDING,
                    created_at__lte=now - engine.give_up_after(),
                ).update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error="given up")
                transaction.on_commit(functools.partial(recording.kick, ep.brand_id, ep.pk))
            else:
                ep.enabled, ep.disabled_reason, ep.disabled_at = (
                    False,
                    WebhookEndpoint.DisabledReason.MANUAL,
                    now,
                )
        if changes:
            ep.updated_at = now
            ep.save()
            events.endpoint_updated(brand=ep.brand_id, actor=actor, endpoint=ep, changes=changes)
    return ep


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: Actor, grace_hours: int | None = None) -> str:
    """A new signing secret (returned, shown this once); the old one also signs for ``grace_hours``
    (default WEBHOOK_SECRET_GRACE_HOURS), so every request carries two signatures meanwhile."""
    if grace_hours is None:
        grace_hours = int(getattr(settings, "WEBHOOK_SECRET_GRACE_HOURS", 24))
    if not 0 <= int(grace_hours) <= 7 * 24:
        raise ValidationError({"grace_hours": [_("From 0 to 168 hours.")]})
    secret = new_secret()
    with brand_scope(endpoint.brand_id):
        ep = _locked(endpoint)
        now = timezone.now()
        if grace_hours:
            ep.previous_secret = ep.secret
            ep.previous_secret_expires_at = now + datetime.timedelta(hours=int(grace_hours))
        else:
            ep.previous_secret, ep.previous_secret_expires_at = "", None
        ep.secret, ep.updated_at = secret, now
        ep.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
        events.endpoint_secret_rotated(brand=ep.brand_id, actor=actor, endpoint=ep)
    endpoint.previous_secret_expires_at = ep.previous_secret_expires_at
    return secret


def endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    """Delete the endpoint with its deliveries and their log (the events stay)."""
    with brand_scope(endpoint.brand_id):
        ep = _locked(endpoint)
        events.endpoint_deleted(brand=ep.brand_id, actor=actor, endpoint=ep)
        ep.delete()


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise ValidationError(_("The endpoint is disabled; enable it first."), code="endpoint_disabled")


def delivery_replay(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Send a delivery's event to its endpoint again, as a new (manual) delivery."""
    with brand_scope(delivery.brand_id):
        endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
        _require_enabled(endpoint)
        now = timezone.now()
        replay = WebhookDelivery.objects.create(
            brand_id=delivery.brand_id,
            event_id=delivery.event_id,
            endpoint=endpoint,
            next_attempt_at=now,
            manual=True,
            created_at=now,
        )
        events.delivery_replayed(brand=delivery.brand_id, actor=actor, delivery=replay)
        transaction.on_commit(functools.partial(recording.kick, delivery.brand_id, endpoint.pk))
    return replay


def send_test_event(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookDelivery:
    """Send a ``ping`` event to the endpoint (to check it receives and verifies signatures)."""
    with brand_scope(endpoint.brand_id):
        ep = WebhookEndpoint.objects.get(pk=endpoint.pk)
        _require_enabled(ep)
        event = recording.record_event(
            brand_id=ep.brand_id,
            type=catalogue.PING,
            data=catalogue.PING_EVENT.build(ep.brand_id, {"endpoint_id": ep.pk, "message": "ping"}),
            endpoints=[ep],
            manual=True,
        )
        delivery = WebhookDelivery.objects.get(event=event, endpoint=ep)
        events.test_event_sent(brand=ep.brand_id, actor=actor, delivery=delivery)
    return delivery


def app_endpoints_disable(*, app, actor: Actor | None = None) -> int:
    """Disable every endpoint of a revoked app (partners.services.app_revoke)."""
    n = 0
    with brand_scope(app.brand_id):
        for ep in WebhookEndpoint.objects.filter(app=app, enabled=True).select_related("app"):
            n += engine.disable(
                app.brand_id,
                ep,
                reason=WebhookEndpoint.DisabledReason.APP_REVOKED,
                actor=actor or Actor.system(),
            )
    return n


def notify_disabled(*, brand_id: int, endpoint_id: int) -> int:
    """Tell the brand's admins that an endpoint was disabled for failing; returns how many."""
    sender = get_sender()
    with brand_scope(brand_id):
        endpoint = selectors.endpoint_list(brand_id).filter(pk=endpoint_id).first()
        if endpoint is None or endpoint.enabled:
            return 0
        brand = Brand.objects.get(pk=brand_id)
        admins = Staff.objects.filter(role=Staff.Role.BRAND_ADMIN, status=Staff.Status.ACTIVE).select_related(
            "user"
        )
        sent = 0
        for admin in admins:
            if not admin.user.phone:
                continue
            with translation.override(admin.user.preferred_language):
                text = _(
                    "%(brand)s: the webhook endpoint %(url)s of the app %(app)s kept failing for "
                    "%(days)s days and was disabled. Fix it, then enable it again under Developers."
                ) % {
                    "brand": brand.name,
                    "url": endpoint.url,
                    "app": endpoint.app.name,
                    "days": getattr(settings, "WEBHOOK_DISABLE_AFTER_DAYS", 3),
                }
            sender.send(phone=admin.user.phone, text=text)
            sent += 1
    return sent


def log_purge(*, brand: Brand | int, older_than_days: int | None = None) -> int:
    """Delete the brand's finished deliveries (with their attempts) and events older than
    WEBHOOK_LOG_RETENTION_DAYS; pending ones stay. Returns how many deliveries went."""
    days = int(
        getattr(settings, "WEBHOOK_LOG_RETENTION_DAYS", 30) if older_than_days is None else older_than_days
    )
    cutoff = timezone.now() - datetime.timedelta(days=days)
    done = [WebhookDelivery.Status.SUCCEEDED, WebhookDelivery.Status.FAILED]
    with brand_scope(brand):
        WebhookAttempt.objects.filter(delivery__created_at__lt=cutoff, delivery__status__in=done).delete()
        gone, _by_model = WebhookDelivery.objects.filter(created_at__lt=cutoff, status__in=done).delete()
        WebhookEvent.objects.filter(created_at__lt=cutoff, deliveries__isnull=True).delete()
    return gone
