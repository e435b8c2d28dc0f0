"""The tenancy core: brands (tenants), stores, users, staff, invitations and the audit log."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from retail.phones import normalize_phone
from retail.tenancy import BrandManager, BrandOwned

slug_validator = RegexValidator(r"^[a-z0-9][a-z0-9-]{1,48}$", _("Lowercase letters, digits and -."))
code_validator = RegexValidator(r"^[A-Za-z0-9_-]{1,32}$", _("Letters, digits, _ and - only."))


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


class Brand(models.Model):
    """A tenant. Not brand-owned itself: it is the row everything else belongs to."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=50, unique=True, validators=[slug_validator])
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Store(BrandOwned):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    code = models.CharField(_("store code"), max_length=32, validators=[code_validator])
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=255, blank=True)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    geofence_radius_m = models.PositiveIntegerField(
        _("geofence radius (m)"),
        default=200,
        validators=[MinValueValidator(10), MaxValueValidator(5000)],
    )
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_timezone]
    )
    opens_at = models.TimeField(_("opens at"), default="10:00")
    closes_at = models.TimeField(_("closes at"), default="22:00")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "code"],
                name="store_code_unique_per_brand",
                violation_error_message=_("Another store already has this store code."),
            ),
            # Composite key target so that staff-store links cannot cross brands.
            models.UniqueConstraint(fields=["brand", "id"], name="store_brand_id_unique"),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="store_lat_lng_together",
                violation_error_message=_("Give both latitude and longitude, or neither."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class User(AbstractUser):
    """A person. Logs in by username or phone; works for one or more brands through Staff."""

    phone = models.CharField(_("phone"), max_length=20, unique=True, null=True, blank=True)
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    # The language the person last chose in the switcher; messages sent to them (pushes) use it.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    def clean(self) -> None:
        super().clean()
        if self.phone:
            self.phone = normalize_phone(self.phone)

    @property
    def preferred_language(self) -> str:
        """The language to write to this person in when they are not in front of a page."""
        return self.language or settings.LANGUAGE_CODE


class StaffManager(BrandManager):
    """The brand's people: a partner app's service staff (kind "app") is left out of every list,
    count and lookup through ``Staff.objects``; ``Staff.unscoped`` and foreign keys still reach it."""

    def get_queryset(self):
        return super().get_queryset().filter(kind=Staff.Kind.PERSON)

    def for_brand(self, brand):
        return super().for_brand(brand).filter(kind=Staff.Kind.PERSON)


class Staff(BrandOwned):
    """A user's employment at a brand: a person, or a partner app's service account (its actor)."""

    class Role(models.TextChoices):
        BRAND_ADMIN = "brand_admin", _("Brand admin")
        STORE_MANAGER = "store_manager", _("Store manager")
        GUIDE = "guide", _("Guide")
        STAFF = "staff", _("Staff")

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        ACTIVE = "active", _("Active")
        LEFT = "left", _("Left")

    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        APP = "app", _("Partner app")

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="employments")
    name = models.CharField(_("name"), max_length=64)
    employee_no = models.CharField(_("employee no."), max_length=32, blank=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.GUIDE)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.INVITED)
    stores = models.ManyToManyField(Store, through="StaffStore", related_name="staff", blank=True)
    hired_on = models.DateField(_("hired on"), null=True, blank=True)
    left_on = models.DateField(_("left on"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.PERSON)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    objects = StaffManager()
    unscoped = models.Manager()

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "user"],
                name="staff_one_per_user_per_brand",
                violation_error_message=_("This person already works for the brand."),
            ),
            models.UniqueConstraint(
                fields=["brand", "employee_no"],
                condition=~Q(employee_no=""),
                name="staff_employee_no_unique_per_brand",
                violation_error_message=_("Another staff member already has this employee number."),
            ),
            models.UniqueConstraint(fields=["brand", "id"], name="staff_brand_id_unique"),
            models.CheckConstraint(
                condition=~Q(status="left") | Q(left_on__isnull=False),
                name="staff_left_has_date",
                violation_error_message=_("Someone who has left needs the date they left."),
            ),
        ]
        indexes = [
            models.Index(fields=["brand", "role", "status"]),
            # The staff list is ordered by name within a brand.
            models.Index(fields=["brand", "name", "id"], name="staff_brand_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_brand_admin(self) -> bool:
        return self.role == self.Role.BRAND_ADMIN

    @property
    def is_store_manager(self) -> bool:
        return self.role == self.Role.STORE_MANAGER


class StaffStore(BrandOwned):
    """Which stores a staff member works in (a promoter may work in several)."""

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="store_links")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="staff_links")

    class Meta:
        verbose_name = _("staff store")
        constraints = [
            models.UniqueConstraint(fields=["brand", "staff", "store"], name="staffstore_unique"),
        ]
        indexes = [models.Index(fields=["brand", "store"])]


class Invitation(BrandOwned):
    """A one-time link with which an invited staff member sets up their login."""

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        ordering = ["-created_at"]

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > dj_timezone.now()


class AuditLog(models.Model):
    """Append-only record of sensitive actions. ``brand`` is empty only for platform events."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(_("action"), max_length=64)
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_repr = models.CharField(_("target"), max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False, db_index=True)

    objects = BrandManager()
    unscoped = models.Manager()

    class Meta:
        base_manager_name = "unscoped"
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action_label} {self.target_repr}"

    @property
    def action_label(self) -> str:
        """The action in words, in the active language (each app registers its own)."""
        from retail.labels import action_label

        return action_label(self.action)

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValidationError("audit log entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("audit log entries are append-only")


class ApiIdempotencyRecord(BrandOwned):
    """The first answer to an API POST sent with an ``Idempotency-Key``, answered again to a retry
    with the same key and body for 24 hours (retail.idempotency). Unique per brand, caller and key."""

    principal = models.CharField(max_length=32)  # "staff:<id>" (a partner app: its service staff)
    key = models.CharField(max_length=100)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("API idempotency record")
        constraints = [
            models.UniqueConstraint(fields=["brand", "principal", "key"], name="api_idempotency_unique_key"),
        ]
        indexes = [models.Index(fields=["brand", "created_at"], name="api_idempotency_brand_at_idx")]
