"""Store devices (door terminals, clock-in kiosks), their pairing, events and commands."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from retail.models import Staff, Store
from retail.tenancy import BrandOwned

DEFAULT_CONFIG = {
    "door_open_seconds": 5,
    "volume": 70,
    "language": "zh-hans",
    "door_windows": [],
}


def default_config() -> dict:
    return {**DEFAULT_CONFIG, "door_windows": []}


class Device(BrandOwned):
    """A terminal in a store, paired to the brand with its own credential (a random secret, kept
    as its SHA-256 digest). ``uid`` is the public id the device and the API use."""

    class Kind(models.TextChoices):
        DOOR = "door", _("Door terminal")
        CLOCK_IN = "clock_in", _("Clock-in terminal")
        BOTH = "both", _("Door and clock-in")

    class Status(models.TextChoices):
        UNPAIRED = "unpaired", _("Not paired")
        ONLINE = "online", _("Online")
        OFFLINE = "offline", _("Offline")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(_("name"), max_length=64)
    location = models.CharField(_("location"), max_length=100, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.CLOCK_IN)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.UNPAIRED)
    enabled = models.BooleanField(_("enabled"), default=True)
    secret_hash = models.CharField(max_length=64, blank=True)
    credential_version = models.PositiveIntegerField(default=0)
    paired_at = models.DateTimeField(_("paired at"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    last_connected_at = models.DateTimeField(null=True, blank=True)
    last_disconnected_at = models.DateTimeField(null=True, blank=True)
    offline_alerted_at = models.DateTimeField(null=True, blank=True)
    app_version = models.CharField(_("app version"), max_length=32, blank=True)
    firmware_version = models.CharField(_("firmware version"), max_length=32, blank=True)
    protocol_version = models.PositiveSmallIntegerField(null=True, blank=True)
    clock_skew_ms = models.BigIntegerField(_("clock skew (ms)"), null=True, blank=True)
    # The channel name of the live connection (one per device); empty when none.
    connection = models.CharField(max_length=200, blank=True)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    config = models.JSONField(_("settings"), default=default_config)
    config_version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["store_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "id"], name="device_brand_id_unique"),
            models.UniqueConstraint(fields=["brand", "store", "name"], name="device_store_name_unique"),
        ]
        indexes = [
            models.Index(fields=["brand", "store", "status"], name="device_store_status_idx"),
            models.Index(fields=["status", "last_seen_at"], name="device_status_seen_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_door(self) -> bool:
        return self.kind in (self.Kind.DOOR, self.Kind.BOTH)

    @property
    def is_clock_in(self) -> bool:
        return self.kind in (self.Kind.CLOCK_IN, self.Kind.BOTH)

    @property
    def online(self) -> bool:
        return self.status == self.Status.ONLINE

    @property
    def paired(self) -> bool:
        return bool(self.secret_hash)

    @property
    def state(self) -> str:
        """What the dashboard shows: disabled, not paired, online or offline."""
        return "disabled" if not self.enabled else self.status


class PairingCode(BrandOwned):
    """A one-time code (8 characters, shown once with a QR) a device exchanges for its secret."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="pairing_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)

    class Meta:
        verbose_name = _("pairing code")
        ordering = ["-created_at", "-id"]


class DeviceTicket(BrandOwned):
    """A short-lived, single-use websocket ticket, fetched over HTTPS with the device's secret."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    credential_version = models.PositiveIntegerField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("device ticket")
        indexes = [models.Index(fields=["expires_at"], name="deviceticket_expiry_idx")]


class DeviceEvent(BrandOwned):
    """An event a device reported (punch, door opened, tamper, a frame to identify, an error),
    stored once per device and event id however often it is sent again."""

    class Type(models.TextChoices):
        PUNCH = "punch", _("Punch")
        DOOR_OPENED = "door_opened", _("Door opened")
        DOOR_FORCED = "door_forced", _("Door forced open")
        TAMPER = "tamper", _("Tamper alarm")
        IDENTIFY = "identify", _("Face frame")
        ERROR = "error", _("Device error")

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=64)
    type = models.CharField(_("type"), max_length=16, choices=Type.choices)
    device_time = models.DateTimeField(_("device time"))
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), default=dj_timezone.now)
    offline = models.BooleanField(_("sent after reconnecting"), default=False)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("device event")
        verbose_name_plural = _("device events")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "device", "event_id"], name="deviceevent_once"),
        ]
        indexes = [
            models.Index(fields=["brand", "device", "-occurred_at"], name="deviceevent_device_idx"),
            models.Index(fields=["brand", "type", "-occurred_at"], name="deviceevent_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.event_id}"


class DeviceCommand(BrandOwned):
    """A command sent to a device (open the door, reload settings, ...) and what it answered."""

    class Name(models.TextChoices):
        OPEN_DOOR = "open_door", _("Open the door")
        RELOAD_CONFIG = "reload_config", _("Reload settings")
        SYNC = "sync", _("Sync staff list")
        SHOW_MESSAGE = "show_message", _("Show a message")
        RING = "ring", _("Ring")

    class Status(models.TextChoices):
        SENT = "sent", _("Sent")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="commands")
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("command"), max_length=16, choices=Name.choices)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.SENT)
    result = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("device command")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "device", "-created_at"], name="devicecommand_device_idx")]
