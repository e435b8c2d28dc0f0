"""Phone punches: the punch PIN, the phone's device cookie, the risk of a punch and the punch itself.

A phone punch is made by the logged-in staff member on their own phone, with the browser's
location and, when needed, a photo from the front camera. Its risk is one or more of:

* ``new_device``: the phone's cookie (a long-lived random token; only its hash is kept, per
  person, in PhoneDevice) was never seen for this person;
* ``no_location`` / ``outside_geofence``: no location was given, or it lies outside the store's
  geofence (Store.latitude/longitude/geofence_radius_m; a store without coordinates has no
  geofence to be inside);
* ``odd_hour``: outside today's shift (2 h before its start to 2 h after its end, overnight shifts
  included), or, without a shift, between 22:00 and 06:00 in the store's time zone;
* ``pattern``: three or more risky punches by the person in the last seven days.

The brand's policy (AttendancePolicy.phone_face, brand admins only) says when the face is checked:
``always``, ``risk`` (when the punch has any risk) or ``never`` (the phone then takes no face).
A face check is a few frames answering a blink or head-turn challenge (a photo held up to the
phone does not punch), each 1:1 against the person's own encodings with the brand's threshold.
The way without the face is the punch PIN, only inside the store's geofence; when the face was
needed, a reason is required and recorded.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from attendance import faces, gallery, records, services
from attendance.models import AttendancePolicy, FaceEncoding, PhoneDevice, PhonePunchKey, Punch, Schedule
from retail import roles
from retail.events import Actor, record
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope

PIN_RE = re.compile(r"^[0-9]{4,8}$")
PIN_MAX_FAILURES = 5
PIN_LOCK = timedelta(minutes=15)
ODD_MARGIN = timedelta(hours=2)
NIGHT_START, NIGHT_END = time(22, 0), time(6, 0)
PATTERN_DAYS, PATTERN_COUNT = 7, 3
MAX_ACCURACY_M = 100_000
REASON_MAX = 200
DEVICE_COOKIE = "att_device"

RISKS = ("new_device", "no_location", "outside_geofence", "odd_hour", "pattern")


def _field(field: str, message: str, code: str) -> ValidationError:
    """A refusal of one field, its code kept on the field's error."""
    return ValidationError({field: ValidationError(message, code=code)})


# --- the punch PIN -----------------------------------------------------------------------------


def pin_is_set(*, brand: Brand, staff: Staff) -> bool:
    from attendance.models import StaffPin

    with brand_scope(brand):
        return StaffPin.objects.for_brand(brand).filter(staff=staff).exists()


def pin_set(*, brand: Brand, staff: Staff, actor: Actor, pin: str, current: str | None = None) -> None:
    """Set or change the person's own punch PIN (4–8 digits), hashed like a password. Changing it
    needs the current PIN."""
    from attendance.models import StaffPin

    pin = (pin or "").strip()
    if not PIN_RE.match(pin):
        raise _field("pin", _("A PIN is 4 to 8 digits."), "invalid")
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise _field("pin", _("Choose a PIN that is harder to guess."), "weak")
    if pin_is_set(brand=brand, staff=staff):
        # Checked first, in its own scope: a wrong current PIN counts towards the lock even though
        # this change is refused.
        pin_check(brand=brand, staff=staff, pin=current or "", field="current")
    with brand_scope(brand):
        row = StaffPin.objects.for_brand(brand).select_for_update().filter(staff=staff).first()
        if row is not None:
            row.pin_hash = make_password(pin)
            row.set_at = timezone.now()
            row.failed_count = 0
            row.locked_until = None
            row.save()
        else:
            try:
                with transaction.atomic():
                    StaffPin.objects.create(brand=brand, staff=staff, pin_hash=make_password(pin))
            except IntegrityError:  # set by another request at the same moment
                raise _field("pin", _("Your PIN was just set. Reload the page."), "conflict") from None
        record(brand=brand, actor=actor, action="attendance.pin_set", target=staff)


def pin_check(*, brand: Brand, staff: Staff, pin: str, field: str = "pin") -> None:
    """ValidationError unless ``pin`` is the person's PIN. Five wrong PINs in a row lock it for 15
    minutes."""
    from attendance.models import StaffPin

    now = timezone.now()
    with brand_scope(brand):
        row = StaffPin.objects.for_brand(brand).filter(staff=staff).first()
        if row is None:
            raise _field(field, _("Set a punch PIN first."), "no_pin")
        if row.locked_until and row.locked_until > now:
            raise _field(
                field,
                _("Too many wrong PINs. Try again after %(time)s.") % {"time": _local_hm(row.locked_until)},
                "locked",
            )
        if check_password(pin or "", row.pin_hash):
            if row.failed_count:
                StaffPin.objects.for_brand(brand).filter(pk=row.pk).update(failed_count=0, locked_until=None)
            return
    failures = _pin_failed(brand, row.pk, now)
    if failures >= PIN_MAX_FAILURES:
        raise _field(field, _("Too many wrong PINs. Try again in 15 minutes."), "locked")
    raise _field(field, _("Wrong PIN. %(n)s tries left.") % {"n": PIN_MAX_FAILURES - failures}, "wrong_pin")


def _pin_failed(brand: Brand, pin_id: int, now: datetime) -> int:
    """Count a wrong PIN; the fifth locks the PIN (and starts the count again)."""
    from django.db.models import F

    from attendance.models import StaffPin

    with brand_scope(brand):
        StaffPin.objects.for_brand(brand).filter(pk=pin_id).update(failed_count=F("failed_count") + 1)
        row = StaffPin.objects.for_brand(brand).get(pk=pin_id)
        if row.failed_count >= PIN_MAX_FAILURES:
            StaffPin.objects.for_brand(brand).filter(pk=pin_id).update(
                locked_until=now + PIN_LOCK, failed_count=0
            )
            return PIN_MAX_FAILURES
        return row.failed_count


def _local_hm(at: datetime) -> str:
    return timezone.localtime(at).strftime("%H:%M")


# --- the phone's device cookie ------------------------------------------------------------------


def device_token_new() -> str:
    return secrets.token_urlsafe(32)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def device_known(*, brand: Brand, staff: Staff, token: str | None) -> bool:
    if not token or len(token) > 100:
        return False
    with brand_scope(brand):
        return PhoneDevice.objects.for_brand(brand).filter(staff=staff, token_hash=_hash(token)).exists()


def _device_remember(brand: Brand, staff: Staff, token: str | None, user_agent: str) -> None:
    if not token or len(token) > 100:
        return
    now = timezone.now()
    with brand_scope(brand):
        updated = (
            PhoneDevice.objects.for_brand(brand)
            .filter(staff=staff, token_hash=_hash(token))
            .update(last_seen_at=now, user_agent=user_agent[:255])
        )
        if not updated:
            try:
                with transaction.atomic():
                    PhoneDevice.objects.create(
                        brand=brand, staff=staff, token_hash=_hash(token), user_agent=user_agent[:255]
                    )
            except IntegrityError:  # the same phone remembered by a request at the same moment
                pass


# --- location ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    latitude: Decimal
    longitude: Decimal
    accuracy_m: int


def location_parse(latitude: Any, longitude: Any, accuracy: Any = None) -> Location | None:
    """The browser's position, or None when none was given; ValidationError when it is not one."""
    if latitude in (None, "") and longitude in (None, ""):
        return None
    try:
        la, lo = Decimal(str(latitude)), Decimal(str(longitude))
        acc = float(accuracy) if accuracy not in (None, "") else 0.0
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ValidationError(_("The location could not be read."), code="bad_location") from exc
    if not (la.is_finite() and lo.is_finite() and math.isfinite(acc)):
        raise ValidationError(_("The location could not be read."), code="bad_location")
    if not (-90 <= la <= 90 and -180 <= lo <= 180 and 0 <= acc <= MAX_ACCURACY_M):
        raise ValidationError(_("The location could not be read."), code="bad_location")
    return Location(la.quantize(Decimal("0.000001")), lo.quantize(Decimal("0.000001")), int(round(acc)))


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def store_distance(store: Store, where: Location | None) -> int | None:
    """Metres from the store, or None without a location or without the store's coordinates."""
    if where is None or store.latitude is None or store.longitude is None:
        return None
    return int(
        round(
            distance_m(
                float(where.latitude), float(where.longitude), float(store.latitude), float(store.longitude)
            )
        )
    )


def inside_geofence(store: Store, where: Location | None) -> bool:
    """Inside the store's circle; a position's reported accuracy does not widen it beyond 100 m."""
    d = store_distance(store, where)
    if d is None:
        return False
    slack = min(where.accuracy_m, 100) if where else 0
    return d - slack <= store.geofence_radius_m


# --- risk --------------------------------------------------------------------------------------


def _odd_hour(brand: Brand, staff: Staff, store: Store, at: datetime) -> bool:
    today = records.local_date(store, at)
    with brand_scope(brand):
        schedules = list(
            Schedule.objects.for_brand(brand)
            .select_related("shift", "store")
            .filter(staff=staff, date__in=[today - timedelta(days=1), today])
        )
    if schedules:
        for s in schedules:
            times = records.shift_times(s.date, s.shift, s.store)
            if times.start - ODD_MARGIN <= at <= times.end + ODD_MARGIN:
                return False
        # Only yesterday's (finished) shift and none today: judged by the clock, like a free day.
        if any(s.date == today for s in schedules):
            return True
    local = at.astimezone(records.store_tz(store)).time()
    return local >= NIGHT_START or local < NIGHT_END


def _pattern(brand: Brand, staff: Staff, at: datetime) -> bool:
    with brand_scope(brand):
        recent = (
            Punch.objects.for_brand(brand)
            .filter(staff=staff, occurred_at__gte=at - timedelta(days=PATTERN_DAYS), occurred_at__lte=at)
            .exclude(risk=[])
            .count()
        )
    return recent >= PATTERN_COUNT


@dataclass
class Assessment:
    store: Store
    risk: list[str]
    policy: str
    distance_m: int | None
    inside: bool
    can_face: bool  # consent given and a face enrolled
    has_pin: bool
    face_needed: bool = field(init=False)

    def __post_init__(self) -> None:
        if self.policy == AttendancePolicy.PhoneFace.ALWAYS:
            self.face_needed = True
        elif self.policy == AttendancePolicy.PhoneFace.NEVER:
            self.face_needed = False
        else:
            self.face_needed = bool(self.risk)

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": {"id": self.store.pk, "name": self.store.name},
            "risk": self.risk,
            "face_needed": self.face_needed,
            "can_face": self.can_face and self.policy != AttendancePolicy.PhoneFace.NEVER,
            "has_pin": self.has_pin,
            "inside": self.inside,
            "distance_m": self.distance_m,
            "radius_m": self.store.geofence_radius_m,
            "pin_allowed": self.inside and self.has_pin,
            "reason_needed": self.face_needed,
        }


def staff_stores(*, brand: Brand, staff: Staff) -> list[Store]:
    ids = sorted(roles.store_ids(staff))
    with brand_scope(brand):
        return list(Store.objects.for_brand(brand).filter(pk__in=ids).order_by("pk"))


def punch_store(*, brand: Brand, staff: Staff, where: Location | None, store_id: Any = None) -> Store:
    """The store the punch is for: the one asked for (one of the person's), else the nearest of the
    person's stores, else their first."""
    stores = staff_stores(brand=brand, staff=staff)
    if not stores:
        raise ValidationError(
            _("You are not assigned to a store, so there is nowhere to punch."), code="no_store"
        )
    if store_id not in (None, ""):
        chosen = next((s for s in stores if str(s.pk) == str(store_id)), None)
        if chosen is None:
            raise ValidationError(_("You do not work in this store."), code="not_your_store")
        return chosen
    near = [(store_distance(s, where), s) for s in stores]
    near = [(d, s) for d, s in near if d is not None]
    if near:
        return min(near, key=lambda x: (x[0], x[1].pk))[1]
    return stores[0]


def assess(
    *,
    brand: Brand,
    staff: Staff,
    store: Store,
    where: Location | None,
    device_token: str | None,
    at: datetime | None = None,
) -> Assessment:
    """The risk of a punch by ``staff`` now, and what the brand's policy then asks for."""
    at = at or timezone.now()
    risk = []
    if not device_known(brand=brand, staff=staff, token=device_token):
        risk.append("new_device")
    d = store_distance(store, where)
    inside = inside_geofence(store, where)
    if where is None:
        risk.append("no_location")
    elif not inside:
        risk.append("outside_geofence")
    if _odd_hour(brand, staff, store, at):
        risk.append("odd_hour")
    if _pattern(brand, staff, at):
        risk.append("pattern")
    policy = services.policy_get(brand=brand)
    with brand_scope(brand):
        enrolled = FaceEncoding.objects.for_brand(brand).filter(staff=staff).exists()
    can_face = enrolled and services.consent_active(brand=brand, staff=staff) is not None
    return Assessment(
        store=store,
        risk=risk,
        policy=policy.phone_face,
        distance_m=d,
        inside=inside,
        can_face=can_face,
        has_pin=pin_is_set(brand=brand, staff=staff),
    )


# --- the face check ----------------------------------------------------------------------------


def face_verify(
    *, brand: Brand, staff: Staff, actor: Actor, frames: list[list[faces.Face]], challenge: str | None
) -> float:
    """1:1 with liveness: every frame holds one face of usable quality, the frames answer the
    challenge (a blink or a head turn: a photo held up to the phone does not), and every frame's
    face is within the brand's threshold of the person's own encodings. Returns the best distance,
    or a ValidationError (no face, several, poor quality, no liveness, not the person)."""
    if not frames:
        raise services._refuse("no_face")
    for found in frames:
        if not found:
            raise services._refuse("no_face")
        if len(found) > 1:
            raise services._refuse("many_faces")
        try:
            faces.check_quality(found[0].quality)
        except faces.FaceError as exc:
            raise services._refuse(exc.code) from exc
    if challenge not in services.LIVENESS_CHALLENGES or not faces.liveness(
        [f[0].quality for f in frames], challenge
    ):
        raise services._refuse("liveness")
    policy = services.policy_get(brand=brand)
    known = gallery.load(brand, purpose="phone_punch", actor=actor)
    mine = known.matrix[known.owners == staff.pk]
    if not mine.size:
        raise ValidationError(_("Enroll your face first."), code="not_enrolled")
    d = [float(faces.distances(mine, f[0].encoding).min()) for f in frames]
    if max(d) > policy.match_threshold:
        raise ValidationError(
            _("Your face did not match. Try again in better light, or punch with your PIN."),
            code="face_mismatch",
        )
    return min(d)


# --- the punch ---------------------------------------------------------------------------------


@dataclass
class PunchResult:
    punch: Punch
    assessment: Assessment
    replay: bool = False


def punch_key_used(*, brand: Brand, key: str) -> Punch | None:
    with brand_scope(brand):
        row = PhonePunchKey.objects.for_brand(brand).select_related("punch").filter(key=key).first()
    return row.punch if row else None


def phone_punch(
    *,
    brand: Brand,
    staff: Staff,
    actor: Actor,
    key: str,
    where: Location | None,
    device_token: str | None,
    store_id: Any = None,
    frames: list[list[faces.Face]] | None = None,
    challenge: str | None = None,
    pin: str | None = None,
    reason: str = "",
    at: datetime | None = None,
) -> PunchResult:
    """Record a phone punch, once per form key. ``frames`` are the analysed camera frames that
    answer ``challenge`` (the face path); without them, ``pin`` (the PIN path: inside the geofence
    only; with a reason when the face was needed). Refusals are ValidationErrors with a code; a
    refused punch writes nothing but the count of a wrong PIN."""
    at = at or timezone.now()
    if not key or len(key) > 64:
        raise ValidationError(_("This form has expired. Reload the page."), code="bad_key")
    if staff.status != Staff.Status.ACTIVE:
        raise ValidationError(_("Only active staff can punch."), code="inactive")
    store = punch_store(brand=brand, staff=staff, where=where, store_id=store_id)
    a = assess(brand=brand, staff=staff, store=store, where=where, device_token=device_token, at=at)
    reason = (reason or "").strip()
    face_distance = None
    if frames is not None:
        if a.policy == AttendancePolicy.PhoneFace.NEVER:
            raise ValidationError(
                _("Your brand does not use faces for phone punches. Punch with your PIN."), code="face_off"
            )
        if not a.can_face:
            raise ValidationError(
                _("Give your consent and enroll your face first, or punch with your PIN."),
                code="not_enrolled",
            )
        face_distance = face_verify(brand=brand, staff=staff, actor=actor, frames=frames, challenge=challenge)
        source = Punch.Source.PHONE_FACE
        reason = ""
    else:
        if not a.inside:
            raise ValidationError(
                _("A PIN punch works only inside the store. Punch with your face, or go to the store."),
                code="outside_geofence",
            )
        if a.face_needed and not reason:
            raise _field("reason", _("Say why you punch without your face."), "reason_needed")
        if len(reason) > REASON_MAX:
            raise _field("reason", _("At most 200 characters."), "invalid")
        pin_check(brand=brand, staff=staff, pin=pin or "")
        source = Punch.Source.PHONE_PIN
        if not a.face_needed:
            reason = reason[:REASON_MAX]
    with transaction.atomic(), brand_scope(brand):
        try:
            with transaction.atomic():
                used = PhonePunchKey.objects.create(brand=brand, staff=staff, key=key)
        except IntegrityError:
            raise ValidationError(_("This punch was already sent."), code="replay") from None
        punch = records.punch_record(
            brand=brand,
            staff=staff,
            store=store,
            occurred_at=at,
            source=source,
            face_checked=frames is not None,
            face_distance=face_distance,
            latitude=where.latitude if where else None,
            longitude=where.longitude if where else None,
            accuracy_m=where.accuracy_m if where else None,
            distance_m=a.distance_m,
            risk=a.risk,
            reason=reason,
        )
        used.punch = punch
        used.save(update_fields=["punch"])
        _device_remember(brand, staff, device_token, actor.user_agent)
    return PunchResult(punch=punch, assessment=a)
