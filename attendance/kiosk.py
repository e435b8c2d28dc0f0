"""Kiosks and doors: who is in front of the camera, PIN punches, door access and refusal alerts.

The device websocket (devices/consumers.py) reaches this module only through the dotted path in
``settings.DEVICE_EVENT_HANDLER`` (``attendance.kiosk.handler``):

* ``live(...)``: a LIVE ``identify`` or ``punch`` frame. An identify frame's face is detected and
  encoded in the face process pool (attendance/pool.py: off the event loop and off the consumer's
  threads); then ONE trip to the database matches it 1:N among the store's active staff (a door:
  also within its door windows, in the store's time zone), stores the event (its result, never the
  image), the punch, the access record, sends ``open_door`` and answers ``identify_result``. A PIN
  punch is checked against the person's hashed PIN (5 failures lock it for 15 minutes) and answered
  ``punch_result``. The PIN itself is never stored.
* ``store_batch(...)``: events sent after reconnecting (``event_batch``), stored instead of
  ``devices.services.events_store``: each NEW PIN punch is checked before it is stored, and a good
  one becomes an offline punch (its day records recomputed).

Refusals (unknown, ambiguous, outside the door hours, not this store's staff, wrong or locked PIN,
unknown person or card) are counted per device: ``settings.ATTENDANCE_REFUSAL_ALERT`` of them within
10 minutes emits ``access.alert`` once per 10 minutes (the store's managers are told). Frames with no
usable face are not counted as refusals: nobody was refused."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from attendance import faces, gallery, pool, records
from attendance.labels import FACE_MESSAGES
from attendance.models import AccessRecord, AttendancePolicy, Punch, StaffPin
from devices import services as device_services
from devices.models import Device, DeviceEvent
from retail import outbox
from retail.models import Staff
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)

PIN_MAX_FAILURES = 5
PIN_LOCK = timedelta(minutes=15)
ALERT_WINDOW = timedelta(minutes=10)
DEFAULT_THRESHOLD = AttendancePolicy._meta.get_field("match_threshold").default
DEFAULT_MARGIN = AttendancePolicy._meta.get_field("match_margin").default

Result = AccessRecord.Result
# Face results that refuse someone (counted for alerts); bad_frame refuses no one.
FACE_REFUSALS = (Result.UNKNOWN, Result.AMBIGUOUS, Result.OUTSIDE_WINDOW, Result.NOT_ASSIGNED)
# punch_result results.
PIN_OK = "ok"
PUNCH_REFUSALS = ("wrong_pin", "locked", "unknown_staff", "no_pin", "unknown_card", "unverified")
REFUSALS = tuple(str(r) for r in FACE_REFUSALS) + PUNCH_REFUSALS


def _messages() -> dict[str, str]:
    """What the screen says for each result, in the active language."""
    return {
        Result.PUNCHED: _("Punch recorded"),
        Result.GRANTED: _("Door open, welcome"),
        Result.UNKNOWN: _("Face not recognised"),
        Result.AMBIGUOUS: _("Not sure who you are. Look at the camera and try again."),
        Result.OUTSIDE_WINDOW: _("The door does not open at this hour."),
        Result.NOT_ASSIGNED: _("You are not on this store's staff."),
        PIN_OK: _("Punch recorded"),
        "wrong_pin": _("Wrong PIN."),
        "locked": _("Too many wrong PINs. Try again in 15 minutes."),
        "unknown_staff": _("No staff member of this store has this number."),
        "no_pin": _("No punch PIN is set. Set one on your phone first."),
        "unknown_card": _("This card is not known. Punch with your face or PIN."),
        "unverified": _("Punch with your face at the camera, or with your PIN."),
    }


def message_for(result: str, *, language: str = "zh-hans", face_code: str = "") -> str:
    with translation.override(language or "zh-hans"):
        if result == Result.BAD_FRAME:
            return str(FACE_MESSAGES.get(face_code) or FACE_MESSAGES["bad_image"])
        return str(_messages().get(result, ""))


# --- door windows -------------------------------------------------------------------------------


def _hm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def within_door_windows(windows: list[dict] | None, at: datetime, tz) -> bool:
    """Whether the door may open at ``at`` (the store's time zone ``tz``). No windows: always.

    A window is ISO weekdays with a start and an end; an end at or before the start runs past
    midnight into the next day (its days name the day it starts)."""
    if not windows:
        return True
    local = at.astimezone(tz)
    now, weekday = local.time().replace(tzinfo=None), local.isoweekday()
    yesterday = 7 if weekday == 1 else weekday - 1
    for w in windows:
        try:
            start, end, days = _hm(w["start"]), _hm(w["end"]), set(w["days"])
        except (KeyError, TypeError, ValueError):
            continue
        if start < end:
            if weekday in days and start <= now < end:
                return True
        elif (weekday in days and now >= start) or (yesterday in days and now < end):
            return True
    return False


# --- the answer --------------------------------------------------------------------------------


@dataclass
class Answer:
    """What the device is told, and what the stored event keeps of it."""

    result: str
    staff: Staff | None = None
    at: datetime | None = None
    punch: bool = False
    door_opened: bool = False
    face_code: str = ""
    status: str = "stored"  # the event kept now, or "duplicate": kept before (answered the same)

    def payload(self, ref: str, device: Device) -> dict:
        tz = records.store_tz(device.store)
        at = (self.at or timezone.now()).astimezone(tz)
        language = (device.config or {}).get("language") or "zh-hans"
        return {
            "ref": ref,
            "result": self.result,
            "staff": {"id": self.staff.pk, "name": self.staff.name} if self.staff else None,
            "time": at.isoformat(timespec="seconds"),
            "punch": self.punch,
            "door_opened": self.door_opened,
            "message": message_for(self.result, language=language, face_code=self.face_code),
            "status": self.status,
        }


def _stored_answer(event: DeviceEvent) -> Answer:
    """The answer given the first time (a frame sent again is answered the same, nothing redone)."""
    p = event.payload or {}
    staff = None
    if p.get("staff_verified"):
        staff = Staff.objects.for_brand(event.brand_id).filter(pk=p["staff_verified"]).first()
    return Answer(
        result=p.get("result") or Result.BAD_FRAME,
        staff=staff,
        at=event.occurred_at,
        punch=bool(p.get("punch")),
        door_opened=bool(p.get("door_opened")),
        face_code=p.get("face_code", ""),
        status="duplicate",
    )


# --- helpers in the device's brand scope --------------------------------------------------------


def _device(brand_id: int, device_id: int) -> Device:
    return Device.objects.for_brand(brand_id).select_related("store", "brand").get(pk=device_id)


def _event(device: Device, event_id: str) -> DeviceEvent | None:
    return DeviceEvent.objects.for_brand(device.brand_id).filter(device=device, event_id=event_id).first()


def _store_staff(device: Device):
    return Staff.objects.for_brand(device.brand_id).filter(
        status=Staff.Status.ACTIVE, store_links__store_id=device.store_id
    )


def _store_event(device: Device, skew_ms: int, event: dict, *, offline: bool) -> DeviceEvent | None:
    statuses = device_services.events_store(
        brand_id=device.brand_id, device_id=device.pk, skew_ms=skew_ms, events_in=[event], offline=offline
    )
    if statuses.get(event["id"]) != "stored":
        return None
    return _event(device, event["id"])


def _alert_if_repeated(device: Device, now: datetime) -> bool:
    """A refusal (not stored yet) at this device: the N-th within 10 minutes alerts the store's
    managers, once per 10 minutes (the stored event that alerted is marked ``alerted``)."""
    limit = settings.ATTENDANCE_REFUSAL_ALERT
    if not limit or limit <= 0:
        return False
    since = now - ALERT_WINDOW
    recent = DeviceEvent.objects.for_brand(device.brand_id).filter(
        device=device, occurred_at__gte=since, received_at__gte=since, type__in=("identify", "punch")
    )
    refusals = recent.filter(payload__result__in=REFUSALS).count() + 1
    if refusals < limit or recent.filter(payload__alerted=True).exists():
        return False
    outbox.emit(
        brand_id=device.brand_id,
        name="access.alert",
        payload={
            "device_id": device.pk,
            "store_id": device.store_id,
            "name": device.name,
            "refusals": refusals,
            "minutes": int(ALERT_WINDOW.total_seconds() // 60),
        },
    )
    return True


def _lock_device(device: Device) -> Device:
    """The device's row, locked: one refusal count and one alert decision at a time."""
    return (
        Device.objects.for_brand(device.brand_id)
        .select_for_update(of=("self",))
        .select_related("store", "brand")
        .get(pk=device.pk)
    )


# --- identify ------------------------------------------------------------------------------------


def _match(device: Device, encoding) -> tuple[str, Staff | None, float | None]:
    """1:N among the store's active staff: (result, staff, distance)."""
    policy = AttendancePolicy.objects.for_brand(device.brand_id).first()
    threshold = policy.match_threshold if policy else DEFAULT_THRESHOLD
    margin = policy.match_margin if policy else DEFAULT_MARGIN
    g = gallery.load(device.brand, purpose="identify")
    matrix, owners = g.for_store(device.store_id)
    m = faces.best_match(matrix, owners, encoding, threshold=threshold, margin=margin)
    if m.result == "matched":
        staff = _store_staff(device).filter(pk=m.staff_id).first()
        if staff is not None:
            return "matched", staff, m.distance
        # Enrolled, but no longer active here (the cached gallery's store links are older).
        other = Staff.objects.for_brand(device.brand_id).filter(pk=m.staff_id).first()
        return Result.NOT_ASSIGNED, other, m.distance
    if m.result == "unknown" and g.matrix.size:
        # Someone of the brand who does not work here is refused as such, not as a stranger.
        wide = faces.best_match(g.matrix, g.owners, encoding, threshold=threshold, margin=margin)
        if wide.result == "matched":
            other = Staff.objects.for_brand(device.brand_id).filter(pk=wide.staff_id).first()
            return Result.NOT_ASSIGNED, other, wide.distance
    return m.result, None, m.distance


def identify(
    *, brand_id: int, device_id: int, skew_ms: int, event: dict, encoding=None, face_code: str = ""
) -> tuple[Device, Answer]:
    """The database side of an identify frame, in one transaction. ``event`` is the storable event
    (no image); ``encoding`` the face's, or ``face_code`` why the frame has no usable face."""
    with brand_scope(brand_id):
        device = _device(brand_id, device_id)
        stored = _event(device, event["id"])
        if stored is not None:
            return device, _stored_answer(stored)
        device = _lock_device(device)
        purpose = (event.get("payload") or {}).get("purpose") or "punch"
        at = datetime.fromtimestamp(event["ts"] / 1000, tz=UTC) - timedelta(milliseconds=skew_ms or 0)
        staff, distance = None, None
        if encoding is None:
            result = Result.BAD_FRAME
        else:
            result, staff, distance = _match(device, encoding)
        # A door terminal, or a door-and-clock-in terminal asked for the door: admitted only within
        # the door's hours. A clock-in at a door-and-clock-in terminal is punched at any hour, and
        # opens the door too when within them.
        door = device.kind == Device.Kind.DOOR or (device.kind == Device.Kind.BOTH and purpose == "door")
        in_window = within_door_windows(
            (device.config or {}).get("door_windows"), at, records.store_tz(device.store)
        )
        if result == "matched":
            result = Result.OUTSIDE_WINDOW if door and not in_window else Result.PUNCHED
        answer = Answer(result=result, at=at, face_code=face_code)
        if result in (Result.PUNCHED, Result.OUTSIDE_WINDOW):
            answer.staff = staff
        if result == Result.PUNCHED:
            answer.punch = True
            if device.is_door and in_window:
                answer.door_opened = _open_door(device, staff)  # sent after commit
                if answer.door_opened:
                    answer.result = Result.GRANTED
        payload = {
            **(event.get("payload") or {}),
            "result": str(answer.result),
            "distance": round(distance, 4) if distance is not None else None,
            "punch": answer.punch,
            "door_opened": answer.door_opened,
        }
        if face_code:
            payload["face_code"] = face_code
        if staff is not None:
            payload["staff_verified"] = staff.pk
        if result in FACE_REFUSALS and _alert_if_repeated(device, timezone.now()):
            payload["alerted"] = True
        row = _store_event(device, skew_ms, {**event, "payload": payload}, offline=False)
        if row is None:  # stored meanwhile by another connection of the device
            stored = _event(device, event["id"])
            return device, _stored_answer(stored) if stored else answer
        punch = None
        if answer.punch:
            punch = records.punch_record(
                brand=device.brand,
                staff=staff,
                store=device.store,
                occurred_at=row.occurred_at,
                source=Punch.Source.DOOR_FACE if door else Punch.Source.KIOSK_FACE,
                device=device,
                device_event=row,
                face_checked=True,
                face_distance=distance,
            )
        AccessRecord.objects.create(
            brand_id=brand_id,
            device=device,
            staff=staff,
            result=answer.result,
            face_distance=distance,
            punch=punch,
            occurred_at=row.occurred_at,
        )
    return device, answer


def _open_door(device: Device, staff: Staff) -> bool:
    seconds = int((device.config or {}).get("door_open_seconds") or 5)
    try:
        device_services.command_send(
            brand=device.brand,
            device=device,
            name="open_door",
            payload={"seconds": seconds, "reason": f"face: {staff.name}"[:100]},
        )
    except ValidationError:  # the device went offline meanwhile: no door to open
        logger.info("door %s offline, not opened for staff %s", device.pk, staff.pk)
        return False
    return True


# --- PIN, card ----------------------------------------------------------------------------------


def _check_pin(device: Device, payload: dict, pin: str | None, now: datetime) -> tuple[str, Staff | None]:
    """(result, staff) of a PIN punch at this device: the person must be active staff of its store
    (by employee number and/or id, which must agree) and the PIN theirs and not locked."""
    people = _store_staff(device)
    employee_no, staff_id = payload.get("employee_no"), payload.get("staff")
    if not employee_no and not staff_id:
        return "unknown_staff", None
    if employee_no:
        people = people.filter(employee_no=employee_no)
    if staff_id:
        people = people.filter(pk=staff_id)
    staff = people.first()
    if staff is None:
        return "unknown_staff", None
    row = StaffPin.objects.for_brand(device.brand_id).select_for_update().filter(staff=staff).first()
    if row is None or not row.pin_hash:
        return "no_pin", staff
    if row.locked_until and row.locked_until > now:
        return "locked", staff
    if pin and check_password(pin, row.pin_hash):
        if row.failed_count or row.locked_until:
            row.failed_count, row.locked_until = 0, None
            row.save(update_fields=["failed_count", "locked_until"])
        return PIN_OK, staff
    row.failed_count += 1
    result = "wrong_pin"
    if row.failed_count >= PIN_MAX_FAILURES:
        row.failed_count, row.locked_until = 0, now + PIN_LOCK
        result = "locked"
    row.save(update_fields=["failed_count", "locked_until"])
    return result, staff


def _punch_checked(
    device: Device, event: dict, pin: str | None, now: datetime
) -> tuple[dict, str, Staff | None]:
    """The punch event's payload to store (no PIN), its result and the person verified."""
    payload = dict(event.get("payload") or {})
    payload.pop("pin", None)
    method = payload.get("method")
    staff = None
    if method == "pin":
        result, staff = _check_pin(device, payload, pin, now)
    elif method == "card":
        result = "unknown_card"  # staff carry no card numbers: a card cannot name anyone yet
    else:
        result = "unverified"  # a face the device matched itself: only identify frames count
    payload["result"] = result
    if staff is not None and result == PIN_OK:
        payload["staff_verified"] = staff.pk
    return payload, result, staff


def _record_pin_punch(device: Device, row: DeviceEvent, staff: Staff, reason: str, offline: bool) -> Punch:
    return records.punch_record(
        brand=device.brand,
        staff=staff,
        store=device.store,
        occurred_at=row.occurred_at,
        source=Punch.Source.KIOSK_PIN,
        device=device,
        device_event=row,
        offline=offline,
        reason=reason or _("PIN at the kiosk"),
    )


def punch(
    *, brand_id: int, device_id: int, skew_ms: int, event: dict, pin: str | None
) -> tuple[Device, Answer]:
    """A live punch frame: checked, stored once, recorded when good; answered either way."""
    with brand_scope(brand_id):
        device = _device(brand_id, device_id)
        stored = _event(device, event["id"])
        if stored is not None:
            return device, _stored_answer(stored)
        device = _lock_device(device)
        now = timezone.now()
        payload, result, staff = _punch_checked(device, event, pin, now)
        payload["punch"] = result == PIN_OK
        if result != PIN_OK and _alert_if_repeated(device, now):
            payload["alerted"] = True
        row = _store_event(device, skew_ms, {**event, "payload": payload}, offline=False)
        if row is None:
            stored = _event(device, event["id"])
            return device, _stored_answer(stored) if stored else Answer(result=result)
        answer = Answer(result=result, staff=staff if result == PIN_OK else None, at=row.occurred_at)
        if result == PIN_OK:
            _record_pin_punch(device, row, staff, payload.get("reason", ""), offline=False)
            answer.punch = True
    return device, answer


# --- the hook ----------------------------------------------------------------------------------


class KioskHandler:
    """settings.DEVICE_EVENT_HANDLER: what devices/consumers.py calls for identify and punch frames
    and for offline batches (see the module's docstring)."""

    async def live(self, *, device: Device, skew_ms: int, event: dict, pin: str | None = None, image=None):
        """(answer type, payload) for a live ``identify`` (``image``: the decoded frame's bytes) or
        ``punch`` (``pin``: the PIN given, if any); None when this handler does not answer it."""
        if event["type"] == "identify":
            encoding, code = None, ""
            try:
                found = await pool.analyse(image)
                encoding = found[0].encoding
            except faces.FaceError as exc:
                code = exc.code if exc.code in FACE_MESSAGES else "bad_image"
            dev, answer = await database_sync_to_async(identify)(
                brand_id=device.brand_id,
                device_id=device.pk,
                skew_ms=skew_ms,
                event=event,
                encoding=encoding,
                face_code=code,
            )
            return "identify_result", answer.payload(event["id"], dev)
        if event["type"] == "punch":
            dev, answer = await database_sync_to_async(punch)(
                brand_id=device.brand_id, device_id=device.pk, skew_ms=skew_ms, event=event, pin=pin
            )
            return "punch_result", answer.payload(event["id"], dev)
        return None

    def store_batch(
        self, *, device: Device, skew_ms: int, events: list[dict], pins: dict[str, str]
    ) -> dict[str, str]:
        """Store an offline batch (synchronous, off the event loop): event id → stored/duplicate.
        New punches are checked first (``pins``: event id → the PIN given); a good PIN punch
        becomes a punch marked offline, and its day records are recomputed."""
        with brand_scope(device.brand_id):
            dev = _device(device.brand_id, device.pk)
            ids = [e["id"] for e in events]
            known = set(
                DeviceEvent.objects.for_brand(dev.brand_id)
                .filter(device=dev, event_id__in=ids)
                .values_list("event_id", flat=True)
            )
            now = timezone.now()
            checked: dict[str, tuple[str, Staff | None, str]] = {}
            prepared = []
            for e in events:
                if e["type"] == "punch" and e["id"] not in known and e["id"] not in checked:
                    payload, result, staff = _punch_checked(dev, e, pins.get(e["id"]), now)
                    checked[e["id"]] = (result, staff, payload.get("reason", ""))
                    e = {**e, "payload": payload}
                prepared.append(e)
            statuses = device_services.events_store(
                brand_id=dev.brand_id, device_id=dev.pk, skew_ms=skew_ms, events_in=prepared, offline=True
            )
            good = [i for i, (r, _s, _why) in checked.items() if r == PIN_OK and statuses.get(i) == "stored"]
            if good:
                rows = {
                    r.event_id: r
                    for r in DeviceEvent.objects.for_brand(dev.brand_id).filter(device=dev, event_id__in=good)
                }
                for event_id in good:
                    _result, staff, reason = checked[event_id]
                    _record_pin_punch(dev, rows[event_id], staff, reason, offline=True)
        return statuses


handler = KioskHandler()
