"""Face attendance and door access: consent, encodings, PINs, shifts, punches, day records, access."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from devices.models import Device, DeviceEvent
from retail.models import Staff, Store
from retail.tenancy import BrandOwned


class AttendancePolicy(BrandOwned):
    """The brand's rules for face matching and phone punches (one row per brand; brand admins only)."""

    class PhoneFace(models.TextChoices):
        ALWAYS = "always", _("Always check the face")
        RISK = "risk", _("Check the face when the punch looks risky")
        NEVER = "never", _("Never check the face on phones")

    match_threshold = models.FloatField(_("match threshold"), default=0.45)
    match_margin = models.FloatField(_("match margin"), default=0.06)
    phone_face = models.CharField(
        _("face check on phones"), max_length=8, choices=PhoneFace.choices, default=PhoneFace.RISK
    )
    retention_days = models.PositiveIntegerField(_("keep punches and access records (days)"), default=400)
    # Raised by every enrollment and deletion: processes reload their decrypted gallery (gallery.py).
    gallery_version = models.PositiveBigIntegerField(default=0)
    updated_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("attendance policy")
        constraints = [models.UniqueConstraint(fields=["brand"], name="attendancepolicy_one_per_brand")]


class ConsentText(BrandOwned):
    """A version of the brand's face-data consent text; the newest is the one staff are asked."""

    version = models.PositiveIntegerField()
    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("text"))
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("consent text")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "version"], name="consenttext_version_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="consenttext_brand_id_unique"),
        ]


class FaceConsent(BrandOwned):
    """A staff member's separate consent to face processing, to one version of the text."""

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="face_consents")
    text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="+")
    given_at = models.DateTimeField(default=dj_timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("face consent")
        ordering = ["-given_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "staff"],
                condition=Q(withdrawn_at__isnull=True),
                name="faceconsent_one_active",
            ),
        ]


class FaceEncoding(BrandOwned):
    """One 128-d face encoding of a staff member, encrypted (attendance/crypto.py); never a photo."""

    class Source(models.TextChoices):
        PHONE = "phone", _("Phone")
        KIOSK = "kiosk", _("Kiosk")

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="face_encodings")
    ciphertext = models.BinaryField()
    key_id = models.CharField(max_length=16)
    source = models.CharField(max_length=8, choices=Source.choices)
    quality = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("face encoding")
        ordering = ["staff_id", "created_at", "id"]
        indexes = [models.Index(fields=["brand", "staff"], name="faceencoding_staff_idx")]


class StaffPin(BrandOwned):
    """A staff member's punch PIN (the non-face path), hashed like a password."""

    staff = models.OneToOneField(Staff, on_delete=models.CASCADE, related_name="punch_pin")
    pin_hash = models.CharField(max_length=128)
    set_at = models.DateTimeField(default=dj_timezone.now)
    failed_count = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("punch PIN")


class ShiftTemplate(BrandOwned):
    """A store's shift: start and end (an end before the start runs past midnight), with grace."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="shift_templates")
    name = models.CharField(_("name"), max_length=40)
    start = models.TimeField(_("starts"))
    end = models.TimeField(_("ends"))
    late_grace_minutes = models.PositiveSmallIntegerField(_("late after (minutes)"), default=5)
    early_grace_minutes = models.PositiveSmallIntegerField(_("early leave before (minutes)"), default=0)
    active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("shift")
        ordering = ["store_id", "start", "name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "store", "name"], name="shifttemplate_name_unique"),
            models.UniqueConstraint(fields=["brand", "id"], name="shifttemplate_brand_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.start:%H:%M}–{self.end:%H:%M}"


class Schedule(BrandOwned):
    """Who works which shift in which store on a date (one per person and date)."""

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="schedules")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    date = models.DateField(_("date"))
    shift = models.ForeignKey(ShiftTemplate, on_delete=models.PROTECT, related_name="schedules")
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("schedule")
        ordering = ["date", "staff_id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "staff", "date"], name="schedule_one_per_day")
        ]
        indexes = [models.Index(fields=["brand", "store", "date"], name="schedule_store_date_idx")]


class Punch(BrandOwned):
    """A clock-in or clock-out, however it was made; the day record reads them in time order."""

    class Source(models.TextChoices):
        KIOSK_FACE = "kiosk_face", _("Face at a kiosk")
        KIOSK_PIN = "kiosk_pin", _("PIN at a kiosk")
        KIOSK_CARD = "kiosk_card", _("Card at a kiosk")
        DOOR_FACE = "door_face", _("Face at a door")
        PHONE_FACE = "phone_face", _("Phone with face")
        PHONE_PIN = "phone_pin", _("Phone with PIN")

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="punches")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    device_event = models.OneToOneField(
        DeviceEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="punch"
    )
    source = models.CharField(_("how"), max_length=12, choices=Source.choices)
    occurred_at = models.DateTimeField(_("time"))
    received_at = models.DateTimeField(default=dj_timezone.now)
    offline = models.BooleanField(_("sent after reconnecting"), default=False)
    face_checked = models.BooleanField(_("face checked"), default=False)
    face_distance = models.FloatField(null=True, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    accuracy_m = models.PositiveIntegerField(null=True, blank=True)
    distance_m = models.PositiveIntegerField(_("distance from the store (m)"), null=True, blank=True)
    risk = models.JSONField(default=list, blank=True)
    reason = models.CharField(_("why without the face"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("punch")
        verbose_name_plural = _("punches")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["brand", "staff", "occurred_at"], name="punch_staff_time_idx"),
            models.Index(fields=["brand", "store", "occurred_at"], name="punch_store_time_idx"),
        ]


class DayRecord(BrandOwned):
    """A person's working day: computed from the schedule and the punches, again whenever a late or
    offline punch arrives; a manager's correction is kept with its reason."""

    class Status(models.TextChoices):
        ON_TIME = "on_time", _("On time")
        LATE = "late", _("Late")
        LEFT_EARLY = "left_early", _("Left early")
        LATE_AND_EARLY = "late_early", _("Late and left early")
        ABSENT = "absent", _("Absent")
        MISSING_PUNCH = "missing", _("Missing punch")
        UNSCHEDULED = "unscheduled", _("Worked without a shift")
        PENDING = "pending", _("In progress")

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="day_records")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+")
    date = models.DateField(_("date"))
    schedule = models.ForeignKey(Schedule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    first_in = models.DateTimeField(_("first punch"), null=True, blank=True)
    last_out = models.DateTimeField(_("last punch"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    late_minutes = models.PositiveIntegerField(_("minutes late"), default=0)
    early_minutes = models.PositiveIntegerField(_("minutes early"), default=0)
    corrected = models.BooleanField(_("corrected"), default=False)
    computed_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        verbose_name = _("day record")
        ordering = ["-date", "staff_id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "staff", "date"], name="dayrecord_one_per_day"),
            models.UniqueConstraint(fields=["brand", "id"], name="dayrecord_brand_id_unique"),
        ]
        indexes = [models.Index(fields=["brand", "store", "date"], name="dayrecord_store_date_idx")]


class Correction(BrandOwned):
    """A manager's correction of a day record, with the reason and what changed."""

    day = models.ForeignKey(DayRecord, on_delete=models.CASCADE, related_name="corrections")
    by = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=200)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("correction")
        ordering = ["-created_at", "-id"]


class AccessRecord(BrandOwned):
    """A face at a door or a clock-in kiosk: who (if anyone) and what the server decided."""

    class Result(models.TextChoices):
        GRANTED = "granted", _("Door opened")
        PUNCHED = "punched", _("Punch recorded")
        UNKNOWN = "unknown", _("Unknown face")
        AMBIGUOUS = "ambiguous", _("Too close to call")
        OUTSIDE_WINDOW = "outside_window", _("Outside door hours")
        NOT_ASSIGNED = "not_assigned", _("Not staff of this store")
        BAD_FRAME = "bad_frame", _("No usable face")

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    result = models.CharField(_("result"), max_length=16, choices=Result.choices)
    face_distance = models.FloatField(null=True, blank=True)
    punch = models.ForeignKey(Punch, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    occurred_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        verbose_name = _("access record")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["brand", "device", "-occurred_at"], name="access_device_idx")]


class PhoneDevice(BrandOwned):
    """A phone a staff member punched from: the hash of a long-lived random cookie (never the cookie
    itself). A punch from a phone not listed here counts as a new device (attendance/phone.py)."""

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="phone_devices")
    token_hash = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=255, blank=True)
    first_seen_at = models.DateTimeField(default=dj_timezone.now)
    last_seen_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        verbose_name = _("phone")
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "staff", "token_hash"], name="phonedevice_once_per_staff"
            )
        ]


class PhonePunchKey(BrandOwned):
    """The one-time key of a phone punch form: a submission sent twice (a double tap, a replay, two
    requests at once) records one punch; the second is refused by the unique key."""

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    punch = models.ForeignKey(Punch, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    used_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        verbose_name = _("phone punch key")
        constraints = [models.UniqueConstraint(fields=["brand", "key"], name="phonepunchkey_once")]
