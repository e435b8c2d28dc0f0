"""Every write of devices: registry, pairing, credentials, connections, events and commands."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from devices import channels, events
from devices import config as device_config
from devices.models import Device, DeviceCommand, DeviceEvent, DeviceTicket, PairingCode
from retail import outbox, roles
from retail.events import Actor
from retail.models import Brand, Staff, Store
from retail.tenancy import (
    SETTING_DEVICE,
    SETTING_PAIRING,
    SETTING_TICKET,
    brand_scope,
    db_settings,
)

logger = logging.getLogger(__name__)

# Pairing codes: 8 characters without look-alikes (no I, L, O, U, 0, 1), shown as ABCD-EFGH.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CODE_LENGTH = 8
_CODE_RE = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
UID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_code(code: Any) -> str:
    """The code as typed or scanned (any case, spaces or dashes) in its canonical form; '' if it
    cannot be one."""
    if not isinstance(code, str) or len(code) > 32:
        return ""
    text = re.sub(r"[\s-]", "", code).upper()
    return text if _CODE_RE.match(text) else ""


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def hmac_key(secret_hash: str) -> bytes:
    """The HMAC key of a device: the SHA-256 digest of its secret (the server keeps only this)."""
    return bytes.fromhex(secret_hash)


def hello_signature(*, secret: str, nonce: str, device_uid: str, ts: int) -> str:
    """What a device signs in its hello frame (docs/kiosk-protocol.md): the simulator's side."""
    key = hmac_key(_sha256(secret))
    return hmac.new(key, f"{nonce}.{device_uid}.{ts}".encode(), hashlib.sha256).hexdigest()


def _require_store(brand: Brand, manager: Staff, store_id: int) -> None:
    roles.require(brand, manager, roles.can_manage_store(manager, store_id))


def _issue_code(*, brand: Brand, device: Device, created_by: Staff | None) -> str:
    """A fresh pairing code for the device (earlier unused ones stop working)."""
    now = timezone.now()
    PairingCode.objects.for_brand(brand).filter(device=device, used_at__isnull=True).update(used_at=now)
    ttl = timedelta(seconds=settings.DEVICE_PAIRING_CODE_SECONDS)
    for _attempt in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with transaction.atomic():
                PairingCode.objects.create(
                    brand=brand,
                    device=device,
                    code_hash=_sha256(code),
                    expires_at=now + ttl,
                    created_by=created_by,
                )
        except IntegrityError:  # the same code is live for another device: draw again
            continue
        return code
    raise RuntimeError("could not draw a unique pairing code")


def device_create(
    *, brand: Brand, manager: Staff, actor: Actor, store: Store, data: dict[str, Any]
) -> tuple[Device, str]:
    """Register a device in one of the manager's stores; returns it and its first pairing code."""
    _require_store(brand, manager, store.pk)
    with brand_scope(brand):
        device = Device(
            brand=brand,
            store=store,
            name=(data.get("name") or "").strip(),
            location=(data.get("location") or "").strip(),
            kind=data.get("kind") or Device.Kind.CLOCK_IN,
            config=device_config.clean({**device_config.defaults(), **(data.get("config") or {})}),
            created_by=manager,
        )
        _full_clean(device)
        device.save()
        code = _issue_code(brand=brand, device=device, created_by=manager)
        events.device_created(brand=brand, actor=actor, device=device)
        events.pairing_code_issued(brand=brand, actor=actor, device=device)
    return device, code


def _full_clean(device: Device) -> None:
    try:
        device.full_clean(exclude=["brand", "created_by"], validate_unique=False)
    except ValidationError:
        raise
    if (
        Device.objects.for_brand(device.brand_id)
        .filter(store_id=device.store_id, name=device.name)
        .exclude(pk=device.pk)
        .exists()
    ):
        raise ValidationError(
            {"name": _("This store already has a device with this name.")}, code="duplicate_name"
        )


def pairing_code_issue(*, brand: Brand, manager: Staff, actor: Actor, device: Device) -> str:
    """A new pairing code for the device (to pair it the first time, or again on new hardware)."""
    _require_store(brand, manager, device.store_id)
    with brand_scope(brand):
        locked = Device.objects.for_brand(brand).select_for_update().get(pk=device.pk)
        if not locked.enabled:
            raise ValidationError(_("Enable the device before pairing it."), code="device_disabled")
        code = _issue_code(brand=brand, device=locked, created_by=manager)
        events.pairing_code_issued(brand=brand, actor=actor, device=locked)
    return code


def _invalid_code() -> ValidationError:
    message = _("This pairing code is wrong, used or expired. Ask for a new one in the console.")
    return ValidationError({"code": ValidationError(message, code="invalid_code")})


def device_pair(
    *,
    code: Any,
    ip: str | None = None,
    user_agent: str = "",
    app_version: str = "",
    firmware_version: str = "",
) -> tuple[Device, str]:
    """Exchange a pairing code for the device's own secret (shown once). The code names the brand;
    using it again, or after it expired, is refused. A device paired before loses its old secret
    and its live connection."""
    canonical = normalise_code(code)
    if not canonical:
        raise _invalid_code()
    code_hash = _sha256(canonical)
    now = timezone.now()
    with transaction.atomic():
        with db_settings({SETTING_PAIRING: code_hash}):
            pairing = PairingCode.unscoped.select_for_update().filter(code_hash=code_hash).first()
        if pairing is None or pairing.used_at is not None or pairing.expires_at <= now:
            raise _invalid_code()
        with brand_scope(pairing.brand_id):
            device = Device.objects.for_brand(pairing.brand_id).select_for_update().get(pk=pairing.device_id)
            if not device.enabled:
                raise _invalid_code()
            secret = secrets.token_urlsafe(32)
            previous = device.connection
            device.secret_hash = _sha256(secret)
            device.credential_version += 1
            device.paired_at = now
            device.connection = ""
            if device.status == Device.Status.UNPAIRED or previous:
                device.status = Device.Status.OFFLINE
            device.app_version = (app_version or device.app_version)[:32]
            device.firmware_version = (firmware_version or device.firmware_version)[:32]
            device.save()
            pairing.used_at = now
            pairing.save(update_fields=["used_at"])
            events.device_paired(brand=device.brand, actor=Actor(ip=ip, user_agent=user_agent), device=device)
            if previous:
                channels.close_on_commit(previous, channels.CLOSE_REVOKED)
    return device, secret


def _device_by_uid(device_uid: Any) -> Device | None:
    """The device with this public id, read before its brand is known (inside a transaction)."""
    if not isinstance(device_uid, str) or not UID_RE.match(device_uid):
        return None
    uid = str(uuid.UUID(device_uid))
    with db_settings({SETTING_DEVICE: uid}):
        return Device.unscoped.filter(uid=uid).first()


def _secret_matches(device: Device, secret: Any) -> bool:
    if not isinstance(secret, str) or not device.secret_hash or len(secret) > 200:
        return False
    return hmac.compare_digest(device.secret_hash, _sha256(secret))


def ticket_issue(*, device_uid: Any, secret: Any) -> str:
    """A single-use websocket ticket, valid DEVICE_TICKET_SECONDS, for a device that shows its secret
    over HTTPS (web kiosks, whose pages cannot keep an HMAC key out of script reach anyway)."""
    with transaction.atomic():
        device = _device_by_uid(device_uid)
        if device is None or not device.enabled or not _secret_matches(device, secret):
            raise ValidationError(_("Unknown device or wrong secret."), code="invalid_credentials")
        token = secrets.token_urlsafe(32)
        with brand_scope(device.brand_id):
            DeviceTicket.objects.filter(expires_at__lt=timezone.now()).filter(
                brand_id=device.brand_id
            ).delete()
            DeviceTicket.objects.create(
                brand_id=device.brand_id,
                device=device,
                token_hash=_sha256(token),
                credential_version=device.credential_version,
                expires_at=timezone.now() + timedelta(seconds=settings.DEVICE_TICKET_SECONDS),
            )
    return token


class AuthFailed(Exception):
    """A hello frame that does not prove the device (``code``: auth_failed or disabled)."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _check_hello(auth: dict, *, device_uid: str, nonce: str, ts: int) -> Device:
    method = auth.get("method")
    if method == "hmac":
        device = _device_by_uid(device_uid)
        if device is None or not device.secret_hash:
            raise AuthFailed("auth_failed", "unknown or unpaired device")
        expected = hmac.new(
            hmac_key(device.secret_hash), f"{nonce}.{device_uid}.{ts}".encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, str(auth.get("signature", ""))):
            raise AuthFailed("auth_failed", "bad signature")
        return device
    if method == "ticket":
        ticket = auth.get("ticket")
        if not isinstance(ticket, str) or not 20 <= len(ticket) <= 100:
            raise AuthFailed("auth_failed", "malformed ticket")
        token_hash = _sha256(ticket)
        with db_settings({SETTING_TICKET: token_hash}):
            row = DeviceTicket.unscoped.select_for_update().filter(token_hash=token_hash).first()
        if row is None or row.used_at is not None or row.expires_at <= timezone.now():
            raise AuthFailed("auth_failed", "unknown, used or expired ticket")
        device = _device_by_uid(device_uid)
        if (
            device is None
            or device.pk != row.device_id
            or device.credential_version != row.credential_version
        ):
            raise AuthFailed("auth_failed", "ticket of another device or an older credential")
        with brand_scope(device.brand_id):
            DeviceTicket.objects.filter(pk=row.pk).update(used_at=timezone.now())
        return device
    raise AuthFailed("auth_failed", "unknown method")


def device_connect(
    *,
    device_uid: str,
    auth: dict,
    nonce: str,
    ts: int,
    channel_name: str,
    ip: str | None,
    hello: dict,
    received_at: datetime,
) -> tuple[Device, str]:
    """Authenticate a hello frame and make this connection the device's live one; returns the device
    and the connection it replaces ('' if none). Raises AuthFailed."""
    with transaction.atomic():
        device = _check_hello(auth, device_uid=device_uid, nonce=nonce, ts=ts)
        if not device.enabled:
            raise AuthFailed("disabled", "device disabled")
        with brand_scope(device.brand_id):
            locked = (
                Device.objects.for_brand(device.brand_id)
                .select_related("store", "brand")
                .select_for_update(of=("self",))
                .get(pk=device.pk)
            )
            previous = locked.connection
            was_alerted = locked.offline_alerted_at is not None
            locked.status = Device.Status.ONLINE
            locked.connection = channel_name
            locked.last_connected_at = received_at
            locked.last_seen_at = received_at
            locked.offline_alerted_at = None
            locked.remote_ip = ip
            locked.clock_skew_ms = ts - int(received_at.timestamp() * 1000)
            locked.protocol_version = hello.get("version")
            locked.app_version = str(hello.get("app_version") or locked.app_version)[:32]
            locked.firmware_version = str(hello.get("firmware_version") or locked.firmware_version)[:32]
            locked.save(
                update_fields=[
                    "status",
                    "connection",
                    "last_connected_at",
                    "last_seen_at",
                    "offline_alerted_at",
                    "remote_ip",
                    "clock_skew_ms",
                    "protocol_version",
                    "app_version",
                    "firmware_version",
                    "updated_at",
                ]
            )
            if was_alerted:
                outbox.emit(brand_id=locked.brand_id, name="device.online", payload={"device_id": locked.pk})
    return locked, previous if previous != channel_name else ""


def device_disconnected(*, brand_id: int, device_id: int, channel_name: str) -> bool:
    """The connection closed: the device is offline, unless another connection replaced it."""
    now = timezone.now()
    with brand_scope(brand_id):
        return bool(
            Device.objects.for_brand(brand_id)
            .filter(pk=device_id, connection=channel_name)
            .update(status=Device.Status.OFFLINE, connection="", last_disconnected_at=now, last_seen_at=now)
        )


def device_seen(*, brand_id: int, device_id: int, at: datetime) -> None:
    """Record a heartbeat's time (the consumer writes it at most every DEVICE_SEEN_WRITE_SECONDS)."""
    with brand_scope(brand_id):
        Device.objects.for_brand(brand_id).filter(pk=device_id).update(last_seen_at=at)


def _insert_events(rows: list[dict]) -> set[str]:
    """INSERT the events, skipping those already stored; the event ids that were new."""
    if not rows:
        return set()
    table = DeviceEvent._meta.db_table
    cols = [
        "brand_id",
        "device_id",
        "event_id",
        "type",
        "device_time",
        "occurred_at",
        "received_at",
        "offline",
        "payload",
    ]
    json_cast = "::jsonb" if connection.vendor == "postgresql" else ""
    placeholder = "(" + ", ".join(["%s"] * (len(cols) - 1)) + f", %s{json_cast})"
    params: list[Any] = []
    for r in rows:
        params += [r[c] for c in cols[:-1]] + [json.dumps(r["payload"], ensure_ascii=False)]
    # Table and column names are constants of this module; every value is a parameter.
    values = ", ".join([placeholder] * len(rows))
    sql = (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES {values} "  # noqa: S608
        "ON CONFLICT (brand_id, device_id, event_id) DO NOTHING RETURNING event_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def events_store(
    *, brand_id: int, device_id: int, skew_ms: int, events_in: list[dict], offline: bool = False
) -> dict[str, str]:
    """Store a device's events (validated envelopes) once each: event id → "stored" or "duplicate".
    ``occurred_at`` is the device's time corrected by the clock skew measured at hello."""
    now = timezone.now()
    rows = []
    seen: set[str] = set()
    for e in events_in:
        if e["id"] in seen:
            continue
        seen.add(e["id"])
        device_time = datetime.fromtimestamp(e["ts"] / 1000, tz=UTC)
        occurred = device_time - timedelta(milliseconds=skew_ms or 0)
        rows.append(
            {
                "brand_id": brand_id,
                "device_id": device_id,
                "event_id": e["id"],
                "type": e["type"],
                "device_time": device_time,
                "occurred_at": occurred,
                "received_at": now,
                "offline": offline or (now - occurred) > timedelta(seconds=60),
                "payload": e.get("payload") or {},
            }
        )
    with brand_scope(brand_id):
        new = _insert_events(rows)
        if new:
            outbox.emit(
                brand_id=brand_id,
                name="device.events",
                payload={"device_id": device_id, "event_ids": sorted(new)},
            )
    return {r["event_id"]: ("stored" if r["event_id"] in new else "duplicate") for r in rows}


def command_send(
    *,
    brand: Brand,
    device: Device,
    name: str,
    payload: dict | None = None,
    created_by: Staff | None = None,
) -> DeviceCommand:
    """Send a command to a connected device (after commit). Refused when the device is offline."""
    with brand_scope(brand):
        locked = Device.objects.for_brand(brand).select_for_update().get(pk=device.pk)
        if not locked.enabled or not locked.connection:
            raise ValidationError(_("The device is offline."), code="device_offline")
        command = DeviceCommand.objects.create(
            brand=brand, device=locked, name=name, payload=payload or {}, created_by=created_by
        )
        channels.command_on_commit(locked.connection, command)
    return command


def command_result(*, brand_id: int, device_id: int, command_uid: str, ok: bool, result: dict) -> bool:
    """What the device answered to a command; False if it names no command of this device."""
    with brand_scope(brand_id):
        return bool(
            DeviceCommand.objects.for_brand(brand_id)
            .filter(device_id=device_id, uid=command_uid, status=DeviceCommand.Status.SENT)
            .update(
                status=DeviceCommand.Status.DONE if ok else DeviceCommand.Status.FAILED,
                result=result,
                done_at=timezone.now(),
            )
        )


CONSOLE_COMMANDS = (DeviceCommand.Name.RING, DeviceCommand.Name.SHOW_MESSAGE, DeviceCommand.Name.SYNC)


def device_command(
    *, brand: Brand, manager: Staff, actor: Actor, device: Device, name: str, payload: dict | None = None
) -> DeviceCommand:
    """Ring, show a message or sync the staff list from the console (audited). A sync carries the
    current version of the store's staff list."""
    _require_store(brand, manager, device.store_id)
    if name not in CONSOLE_COMMANDS:
        raise ValidationError(_("Unknown command."), code="unknown_command")
    payload = dict(payload or {})
    if name == DeviceCommand.Name.SYNC:
        from devices.selectors import staff_for_device

        payload = {"staff_version": staff_for_device(brand_id=brand.pk, store_id=device.store_id)[0]}
    with brand_scope(brand):
        command = command_send(brand=brand, device=device, name=name, payload=payload, created_by=manager)
        events.command_sent(brand=brand, actor=actor, device=device, name=name)
    return command


def door_open_remote(
    *, brand: Brand, manager: Staff, actor: Actor, device: Device, reason: str = ""
) -> DeviceCommand:
    """Open a door terminal's door from the console (audited)."""
    _require_store(brand, manager, device.store_id)
    if not device.is_door:
        raise ValidationError(_("This device does not control a door."), code="not_a_door")
    with brand_scope(brand):
        command = command_send(
            brand=brand,
            device=device,
            name=DeviceCommand.Name.OPEN_DOOR,
            payload={"seconds": device.config.get("door_open_seconds", 5), "reason": (reason or "")[:100]},
            created_by=manager,
        )
        events.door_opened_remotely(brand=brand, actor=actor, device=device, reason=reason)
    return command


def device_update(
    *, brand: Brand, manager: Staff, actor: Actor, device: Device, data: dict[str, Any]
) -> Device:
    """Change a device's name, place, kind or settings; a connected device reloads its settings."""
    _require_store(brand, manager, device.store_id)
    with brand_scope(brand):
        locked = Device.objects.for_brand(brand).select_for_update().get(pk=device.pk)
        changes: dict[str, Any] = {}
        for field in ("name", "location", "kind"):
            if field in data and data[field] is not None:
                value = data[field].strip() if isinstance(data[field], str) else data[field]
                if value != getattr(locked, field):
                    changes[field] = value
                    setattr(locked, field, value)
        if "config" in data and data["config"] is not None:
            config = device_config.clean({**locked.config, **data["config"]})
            if config != locked.config:
                changes["config"] = True
                locked.config = config
                locked.config_version += 1
        if not changes:
            return locked
        _full_clean(locked)
        locked.save()
        events.device_updated(brand=brand, actor=actor, device=locked, changes=sorted(changes))
        if "config" in changes and locked.connection:
            command = DeviceCommand.objects.create(
                brand=brand,
                device=locked,
                name=DeviceCommand.Name.RELOAD_CONFIG,
                payload={"config": locked.config, "config_version": locked.config_version},
                created_by=manager,
            )
            channels.command_on_commit(locked.connection, command)
    return locked


def device_rotate(*, brand: Brand, manager: Staff, actor: Actor, device: Device) -> str:
    """Rotate the credential: the old secret stops working at once, the live connection is closed
    and a new pairing code is issued for the device to pair again."""
    _require_store(brand, manager, device.store_id)
    with brand_scope(brand):
        locked = Device.objects.for_brand(brand).select_for_update().get(pk=device.pk)
        previous = locked.connection
        locked.secret_hash = ""
        locked.credential_version += 1
        locked.connection = ""
        locked.status = Device.Status.UNPAIRED
        locked.save()
        DeviceTicket.objects.for_brand(brand).filter(device=locked, used_at__isnull=True).delete()
        code = _issue_code(brand=brand, device=locked, created_by=manager)
        events.device_rotated(brand=brand, actor=actor, device=locked)
        if previous:
            channels.close_on_commit(previous, channels.CLOSE_REVOKED)
    return code


def device_disable(*, brand: Brand, manager: Staff, actor: Actor, device: Device) -> Device:
    """Disable a device: its live connection is dropped at once and it cannot connect or pair."""
    _require_store(brand, manager, device.store_id)
    with brand_scope(brand):
        locked = Device.objects.for_brand(brand).select_for_update().get(pk=device.pk)
        if not locked.enabled:
            return locked
        previous = locked.connection
        locked.enabled = False
        locked.connection = ""
        if locked.status == Device.Status.ONLINE:
            locked.status = Device.Status.OFFLINE
        locked.save()
        PairingCode.objects.for_brand(brand).filter(device=locked, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        events.device_disabled(brand=brand, actor=actor, device=locked)
        if previous:
            channels.close_on_commit(previous, channels.CLOSE_REVOKED)
    return locked


def device_enable(*, brand: Brand, manager: Staff, actor: Actor, device: Device) -> Device:
    _require_store(brand, manager, device.store_id)
    with brand_scope(brand):
        locked = Device.objects.for_brand(brand).select_for_update().get(pk=device.pk)
        if locked.enabled:
            return locked
        locked.enabled = True
        locked.save()
        events.device_enabled(brand=brand, actor=actor, device=locked)
    return locked


def devices_mark_offline(*, brand: Brand) -> list[int]:
    """Online devices whose heartbeats stopped (their server process died): offline now."""
    cutoff = timezone.now() - timedelta(seconds=settings.DEVICE_OFFLINE_AFTER_SECONDS)
    with brand_scope(brand):
        qs = Device.objects.for_brand(brand).filter(status=Device.Status.ONLINE, last_seen_at__lt=cutoff)
        ids = list(qs.values_list("pk", flat=True))
        if ids:
            Device.objects.for_brand(brand).filter(pk__in=ids).update(
                status=Device.Status.OFFLINE, connection="", last_disconnected_at=timezone.now()
            )
    return ids


def devices_alert_offline(*, brand: Brand) -> list[int]:
    """Devices offline for longer than DEVICE_OFFLINE_ALERT_SECONDS are reported once (outbox event
    ``device.offline``: a webhook, and a notice to the store's managers)."""
    cutoff = timezone.now() - timedelta(seconds=settings.DEVICE_OFFLINE_ALERT_SECONDS)
    with brand_scope(brand):
        qs = (
            Device.objects.for_brand(brand)
            .select_for_update(skip_locked=True)
            .filter(
                enabled=True,
                status=Device.Status.OFFLINE,
                offline_alerted_at__isnull=True,
                last_disconnected_at__lt=cutoff,
            )
        )
        devices = list(qs)
        now = timezone.now()
        for d in devices:
            Device.objects.for_brand(brand).filter(pk=d.pk).update(offline_alerted_at=now)
            outbox.emit(
                brand_id=brand.pk,
                name="device.offline",
                payload={"device_id": d.pk, "store_id": d.store_id, "name": d.name},
            )
    return [d.pk for d in devices]


def credentials_purge(*, brand: Brand, older_than: timedelta = timedelta(days=1)) -> dict[str, int]:
    """Delete websocket tickets that expired, and pairing codes used or expired, more than
    ``older_than`` ago (the audit log keeps who paired what): how many of each went."""
    cutoff = timezone.now() - older_than
    with brand_scope(brand):
        tickets, _kinds = DeviceTicket.objects.for_brand(brand).filter(expires_at__lt=cutoff).delete()
        codes = PairingCode.objects.for_brand(brand)
        used, _kinds = codes.filter(used_at__lt=cutoff).delete()
        expired, _kinds = codes.filter(expires_at__lt=cutoff).delete()
    return {"tickets": tickets, "pairing_codes": used + expired}
