"""Webhook endpoints of partner apps, the events recorded for them and every delivery attempt.

The deliveries are the outbox of webhooks: an event and one delivery per subscribed endpoint are
written in the transaction of the change (recording.py), so nothing is lost if a process dies;
the delivery engine (engine.py) works through the pending ones.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from retail.tenancy import BrandOwned

# Request and response bodies are kept this long in the attempt log (in characters).
BODY_LOG_LIMIT = 4096


class WebhookEndpoint(BrandOwned):
    """A URL of a partner app that receives the event types it subscribes to."""

    class DisabledReason(models.TextChoices):
        NONE = "", _("Enabled")
        MANUAL = "manual", _("Disabled by hand")
        FAILING = "failing", _("Kept failing")
        APP_REVOKED = "app_revoked", _("The app was revoked")

    app = models.ForeignKey("partners.PartnerApp", on_delete=models.PROTECT, related_name="webhook_endpoints")
    url = models.CharField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_types = models.JSONField(_("event types"), default=list)
    # Kept to sign with (an HMAC key cannot be stored hashed); shown once, on create and rotate.
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    disabled_reason = models.CharField(
        _("why disabled"), max_length=16, choices=DisabledReason.choices, blank=True, default=""
    )
    disabled_at = models.DateTimeField(null=True, blank=True)
    # When the current run of failed attempts began (None while deliveries succeed).
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "id"], name="webhookendpoint_brand_id_unique")
        ]
        indexes = [models.Index(fields=["brand", "app"], name="webhookendpoint_app_idx")]

    def __str__(self) -> str:
        return self.url

    @property
    def previous_secret_valid_until(self):
        """When the previous secret stops signing, while it still does; else None."""
        return self.previous_secret_expires_at if len(self.signing_secrets()) > 1 else None

    def signing_secrets(self, now=None) -> list[str]:
        """The secret, then the previous one while its grace lasts (two signatures)."""
        now = now or timezone.now()
        out = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            out.append(self.previous_secret)
        return out


class WebhookEvent(BrandOwned):
    """One public event, as sent to every endpoint subscribed to it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    livemode = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("webhook event")
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["brand", "id"], name="webhookevent_brand_id_unique")]
        indexes = [models.Index(fields=["brand", "created_at"], name="webhookevent_created_idx")]

    def envelope(self) -> dict:
        from retail.webhooks.catalogue import iso

        return {
            "id": str(self.id),
            "type": self.type,
            "created_at": iso(self.created_at),
            "livemode": self.livemode,
            "data": self.data,
        }


class WebhookDelivery(BrandOwned):
    """One event to one endpoint: pending until it succeeds or is given up (failed)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Given up")

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Pending: when it is due (also moved ahead while a worker holds it, see engine.claim).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)  # HTTP status of the last answer
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    manual = models.BooleanField(default=False)  # a replay or a test event, asked for by someone
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("webhook delivery")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "id"], name="webhookdelivery_brand_id_unique")
        ]
        indexes = [
            # The engine's claim: an endpoint's due deliveries, oldest first.
            models.Index(
                fields=["endpoint", "id"], condition=Q(status="pending"), name="webhookdelivery_due_idx"
            ),
            # The sweep: the brand's endpoints with a delivery due.
            models.Index(
                fields=["brand", "next_attempt_at"],
                condition=Q(status="pending"),
                name="webhookdelivery_sweep_idx",
            ),
            models.Index(fields=["brand", "endpoint", "-id"], name="webhookdelivery_endpoint_idx"),
            models.Index(fields=["brand", "status", "-id"], name="webhookdelivery_status_idx"),
        ]


class WebhookAttempt(BrandOwned):
    """One request of a delivery and what came back (bodies cut to BODY_LOG_LIMIT)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    url = models.CharField(max_length=500, blank=True)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("webhook attempt")
        ordering = ["id"]
        indexes = [models.Index(fields=["brand", "delivery", "id"], name="webhookattempt_delivery_idx")]

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300
