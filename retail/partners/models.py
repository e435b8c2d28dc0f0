"""Partner apps (OAuth2 clients of a brand) and the log of their calls."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings

from retail.tenancy import BrandOwned


class PartnerApp(BrandOwned):
    """A partner system a brand admin let in: a django-oauth-toolkit ``Application`` (client
    credentials, hashed secret) with the brand's scopes, limits and its service staff (the actor
    of everything the app does)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        REVOKED = "revoked", _("Revoked")

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.PROTECT,
        related_name="partner_app",
    )
    name = models.CharField(_("name"), max_length=100)
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    ip_allowlist = models.JSONField(_("IP allowlist"), default=list, blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(_("requests per minute"), default=600)
    test_mode = models.BooleanField(_("test mode"), default=False)
    service_staff = models.OneToOneField("retail.Staff", on_delete=models.PROTECT, related_name="partner_app")
    previous_secret_hash = models.CharField(max_length=255, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "retail.Staff", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("partner app")
        verbose_name_plural = _("partner apps")
        ordering = ["name", "id"]
        constraints = [
            # Composite key target so that calls and webhook endpoints cannot cross brands.
            models.UniqueConstraint(fields=["brand", "id"], name="partnerapp_brand_id_unique"),
        ]
        indexes = [models.Index(fields=["brand", "status"], name="partnerapp_brand_status_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def client_id(self) -> str:
        return self.application.client_id

    def previous_secret_usable(self, now=None) -> bool:
        now = now or dj_timezone.now()
        return bool(
            self.previous_secret_hash
            and self.previous_secret_expires_at is not None
            and self.previous_secret_expires_at > now
        )


class PartnerCall(BrandOwned):
    """One call of a partner app: every write and every error, reads sampled
    (settings.PARTNER_READ_SAMPLE_RATE); kept settings.PARTNER_CALL_RETENTION_DAYS."""

    app = models.ForeignKey(PartnerApp, on_delete=models.CASCADE, related_name="calls")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    route = models.CharField(max_length=100, blank=True)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField(default=0)
    ip = models.GenericIPAddressField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(default=dj_timezone.now, db_index=True)

    class Meta:
        verbose_name = _("partner call")
        verbose_name_plural = _("partner calls")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["brand", "-at"], name="partnercall_brand_at_idx"),
            models.Index(fields=["brand", "app", "-at"], name="partnercall_brand_app_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"
