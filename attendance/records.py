"""Shifts, schedules, punches, day records and corrections: every write of working time.

A day record belongs to a person and a date in the store's own time zone (``Store.timezone``);
punches are stored in UTC. With a shift, the punches from the shift's start − 4 h to its end + 6 h
count for the day (a shift whose end is before its start ends the next morning); without a shift,
the punches of the local calendar day that no neighbouring day's shift claims. The first punch is
the clock-in, the last the clock-out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from attendance.models import Correction, DayRecord, Punch, Schedule, ShiftTemplate
from devices.models import Device, DeviceEvent
from retail import outbox, roles
from retail.events import Actor, record
from retail.models import Brand, Staff, StaffStore, Store
from retail.tenancy import brand_scope

BEFORE_START = timedelta(hours=4)
AFTER_END = timedelta(hours=6)
MAX_GRACE_MINUTES = 120
MAX_SCHEDULE_DAYS = 62
SHIFT_FIELDS = ("name", "start", "end", "late_grace_minutes", "early_grace_minutes", "active")
Status = DayRecord.Status


# --- helpers -----------------------------------------------------------------------------------


def _own(brand: Brand, *objs: Any) -> None:
    """Another brand's store, staff, shift or day is "not found" here."""
    for obj in objs:
        if obj is not None and obj.brand_id != brand.pk:
            raise Http404("Not found.")


def _require_store_manager(brand: Brand, manager: Staff, store: Store) -> None:
    _own(brand, store)
    roles.require(brand, manager, roles.can_manage_store(manager, store.pk))


def store_tz(store: Store) -> ZoneInfo:
    return ZoneInfo(store.timezone or "Asia/Shanghai")


def local_date(store: Store, at: datetime) -> date:
    """The date in the store's time zone of an instant."""
    return at.astimezone(store_tz(store)).date()


@dataclass(frozen=True)
class ShiftTimes:
    start: datetime
    end: datetime

    @property
    def window(self) -> tuple[datetime, datetime]:
        """The instants whose punches count for the day: start − 4 h to end + 6 h."""
        return self.start - BEFORE_START, self.end + AFTER_END


def shift_times(day: date, shift: ShiftTemplate, store: Store) -> ShiftTimes:
    """The shift's start and end on ``day`` as aware instants; an end before the start is the
    next day's."""
    tz = store_tz(store)
    end_day = day + timedelta(days=1) if shift.end < shift.start else day
    return ShiftTimes(
        start=datetime.combine(day, shift.start, tzinfo=tz),
        end=datetime.combine(end_day, shift.end, tzinfo=tz),
    )


def _minutes(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))


# --- shifts ------------------------------------------------------------------------------------


def _parse_time(value: Any, field: str) -> time:
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    if isinstance(value, str):
        for fmt in ("%H:%M", "%H:%M:%S"):
            try:
                return datetime.strptime(value.strip(), fmt).time().replace(second=0)
            except ValueError:
                continue
    raise ValidationError({field: _("Enter a time such as 09:30.")}, code="invalid")


def _parse_grace(value: Any, field: str) -> int:
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        minutes = -1
    if isinstance(value, bool) or not 0 <= minutes <= MAX_GRACE_MINUTES:
        raise ValidationError({field: _("Between 0 and 120 minutes.")}, code="invalid")
    return minutes


def _apply_shift_data(shift: ShiftTemplate, data: dict[str, Any]) -> dict[str, list]:
    changes: dict[str, list] = {}
    for field in SHIFT_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if field == "name":
            value = (value or "").strip()
            if not value or len(value) > 40:
                raise ValidationError({"name": _("A shift needs a name of at most 40 characters.")})
        elif field in ("start", "end"):
            value = _parse_time(value, field)
        elif field in ("late_grace_minutes", "early_grace_minutes"):
            value = _parse_grace(value, field)
        else:
            value = bool(value)
        old = getattr(shift, field)
        if old != value:
            changes[field] = [str(old) if old is not None else None, str(value)]
            setattr(shift, field, value)
    if shift.start is None or shift.end is None:
        raise ValidationError(_("A shift needs a start and an end."), code="invalid")
    if shift.start == shift.end:
        raise ValidationError(_("A shift cannot start and end at the same time."), code="invalid")
    return changes


def _save_shift(shift: ShiftTemplate) -> None:
    clash = ShiftTemplate.objects.for_brand(shift.brand_id).filter(store=shift.store, name=shift.name)
    if shift.pk:
        clash = clash.exclude(pk=shift.pk)
    if clash.exists():
        raise ValidationError({"name": _("This store already has a shift with this name.")}, code="unique")
    shift.save()


def shift_create(
    *, brand: Brand, manager: Staff, actor: Actor, store: Store, data: dict[str, Any]
) -> ShiftTemplate:
    """A new shift of the store: its store's managers or a brand admin."""
    _require_store_manager(brand, manager, store)
    shift = ShiftTemplate(brand=brand, store=store, start=None, end=None)
    data = {"late_grace_minutes": 5, "early_grace_minutes": 0, **data}
    _apply_shift_data(shift, data)
    if not shift.name:
        raise ValidationError({"name": _("A shift needs a name of at most 40 characters.")})
    with brand_scope(brand):
        _save_shift(shift)
        record(
            brand=brand,
            actor=actor,
            action="attendance.shift",
            target=shift,
            data={"created": True, "store_id": store.pk},
        )
    return shift


def shift_update(
    *, brand: Brand, manager: Staff, actor: Actor, store: Store, shift: ShiftTemplate, data: dict[str, Any]
) -> ShiftTemplate:
    """Change a shift of the store. Day records already computed keep their status until they are
    recomputed (a new punch, or a schedule change)."""
    _require_store_manager(brand, manager, store)
    _own(brand, shift)
    if shift.store_id != store.pk:
        raise Http404("Not found.")
    with brand_scope(brand):
        shift = ShiftTemplate.objects.for_brand(brand).select_for_update().get(pk=shift.pk)
        changes = _apply_shift_data(shift, data)
        if not changes:
            return shift
        _save_shift(shift)
        record(brand=brand, actor=actor, action="attendance.shift", target=shift, data={"changes": changes})
    return shift


# --- schedules ---------------------------------------------------------------------------------


def _check_days(days: Iterable[date]) -> list[date]:
    days = sorted(set(days or ()))
    if not days or len(days) > MAX_SCHEDULE_DAYS or not all(type(d) is date for d in days):
        raise ValidationError(_("Choose between 1 and 62 dates."), code="invalid")
    return days


def _require_staff_of_store(brand: Brand, staff: Staff, store: Store) -> None:
    _own(brand, staff)
    with brand_scope(brand):
        works = StaffStore.objects.for_brand(brand).filter(staff=staff, store=store).exists()
    if not works or staff.status != Staff.Status.ACTIVE:
        raise ValidationError(_("This person does not work in this store."), code="not_in_store")


def schedule_set(
    *,
    brand: Brand,
    manager: Staff,
    actor: Actor,
    store: Store,
    staff: Staff,
    days: list[date],
    shift: ShiftTemplate,
) -> list[Schedule]:
    """Put the person on ``shift`` on each date, replacing whatever they were scheduled for; the
    day records of those dates are recomputed."""
    _require_store_manager(brand, manager, store)
    _own(brand, shift)
    if shift.store_id != store.pk:
        raise Http404("Not found.")
    if not shift.active:
        raise ValidationError(_("This shift is no longer in use."), code="inactive_shift")
    days = _check_days(days)
    _require_staff_of_store(brand, staff, store)
    rows = []
    with brand_scope(brand):
        existing = {
            s.date: s
            for s in Schedule.objects.for_brand(brand).select_for_update().filter(staff=staff, date__in=days)
        }
        for day in days:
            row = existing.get(day)
            if row is None:
                row = Schedule(
                    brand=brand, staff=staff, store=store, date=day, shift=shift, created_by=manager
                )
            else:
                row.store, row.shift, row.created_by = store, shift, manager
            row.save()
            rows.append(row)
        record(
            brand=brand,
            actor=actor,
            action="attendance.schedule",
            target=staff,
            data={"store_id": store.pk, "shift_id": shift.pk, "days": [d.isoformat() for d in days]},
        )
        for day in days:
            day_record_compute(brand=brand, staff=staff, date=day, store=store)
    return rows


def schedule_clear(
    *, brand: Brand, manager: Staff, actor: Actor, store: Store, staff: Staff, days: list[date]
) -> int:
    """Take the person off the store's schedule on those dates; returns how many were removed."""
    _require_store_manager(brand, manager, store)
    _own(brand, staff)
    days = _check_days(days)
    with brand_scope(brand):
        removed, _rows = (
            Schedule.objects.for_brand(brand).filter(staff=staff, store=store, date__in=days).delete()
        )
        if removed:
            record(
                brand=brand,
                actor=actor,
                action="attendance.schedule_cleared",
                target=staff,
                data={"store_id": store.pk, "days": [d.isoformat() for d in days]},
            )
            for day in days:
                day_record_compute(brand=brand, staff=staff, date=day, store=store)
    return removed


# --- punches -----------------------------------------------------------------------------------


def punch_record(
    *,
    brand: Brand,
    staff: Staff,
    store: Store,
    occurred_at: datetime,
    source: str,
    device: Device | None = None,
    device_event: DeviceEvent | None = None,
    offline: bool = False,
    face_checked: bool = False,
    face_distance: float | None = None,
    latitude: Any = None,
    longitude: Any = None,
    accuracy_m: int | None = None,
    distance_m: int | None = None,
    risk: Iterable[str] = (),
    reason: str = "",
) -> Punch:
    """Store a punch (once per device event) and recompute the day records it can belong to: the
    store's local date of ``occurred_at`` and the day before or after when their shift's window
    reaches it (an overnight shift, a late offline punch days after the fact)."""
    _own(brand, staff, store, device, device_event)
    if source not in Punch.Source.values:
        raise ValidationError(_("Unknown way of punching."), code="invalid")
    if not isinstance(occurred_at, datetime) or timezone.is_naive(occurred_at):
        raise ValidationError(_("A punch needs a time with its time zone."), code="invalid")
    with brand_scope(brand):
        if device_event is not None:
            existing = Punch.objects.for_brand(brand).filter(device_event=device_event).first()
            if existing is not None:
                return existing
        punch = Punch(
            brand=brand,
            staff=staff,
            store=store,
            device=device,
            device_event=device_event,
            source=source,
            occurred_at=occurred_at,
            offline=bool(offline),
            face_checked=bool(face_checked),
            face_distance=face_distance,
            latitude=latitude,
            longitude=longitude,
            accuracy_m=accuracy_m,
            distance_m=distance_m,
            risk=list(risk),
            reason=(reason or "")[:200],
        )
        try:
            with transaction.atomic():
                punch.save()
        except IntegrityError:
            if device_event is None:
                raise
            return Punch.objects.for_brand(brand).get(device_event=device_event)
        for day in days_of_punch(brand=brand, staff=staff, store=store, at=occurred_at):
            day_record_compute(brand=brand, staff=staff, date=day, store=store)
        outbox.emit(
            brand_id=brand.pk,
            name="punch.recorded",
            payload={
                "punch_id": punch.pk,
                "staff_id": staff.pk,
                "store_id": store.pk,
                "source": source,
                "occurred_at": occurred_at.isoformat(),
                "offline": bool(offline),
            },
        )
    return punch


def days_of_punch(*, brand: Brand, staff: Staff, store: Store, at: datetime) -> list[date]:
    """The dates whose day record a punch at ``at`` may change."""
    today = local_date(store, at)
    days = [today]
    schedules = (
        Schedule.objects.for_brand(brand)
        .select_related("shift", "store")
        .filter(staff=staff, date__in=[today - timedelta(days=1), today + timedelta(days=1)])
    )
    for schedule in schedules:
        lo, hi = shift_times(schedule.date, schedule.shift, schedule.store).window
        if lo <= at < hi:
            days.append(schedule.date)
    return sorted(days)


# --- day records -------------------------------------------------------------------------------


def _schedule_of(brand: Brand, staff: Staff, day: date) -> Schedule | None:
    return (
        Schedule.objects.for_brand(brand)
        .select_related("shift", "store")
        .filter(staff=staff, date=day)
        .first()
    )


def _default_store(brand: Brand, staff: Staff) -> Store | None:
    ids = sorted(roles.store_ids(staff))
    return Store.objects.for_brand(brand).filter(pk=ids[0]).first() if ids else None


def _punch_times(brand: Brand, staff: Staff, lo: datetime, hi: datetime) -> list[Punch]:
    return list(
        Punch.objects.for_brand(brand)
        .filter(staff=staff, occurred_at__gte=lo, occurred_at__lt=hi)
        .order_by("occurred_at", "id")
    )


def _unscheduled_punches(brand: Brand, staff: Staff, store: Store, day: date) -> list[Punch]:
    """The punches of the local day that neither the day before's nor the day after's shift claims."""
    tz = store_tz(store)
    lo = datetime.combine(day, time(0), tzinfo=tz)
    hi = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    claimed = []
    for other in (day - timedelta(days=1), day + timedelta(days=1)):
        schedule = _schedule_of(brand, staff, other)
        if schedule is not None:
            claimed.append(shift_times(other, schedule.shift, schedule.store).window)
    return [
        p for p in _punch_times(brand, staff, lo, hi) if not any(a <= p.occurred_at < b for a, b in claimed)
    ]


@dataclass
class Outcome:
    status: str
    late_minutes: int = 0
    early_minutes: int = 0


def judge(
    times: ShiftTimes,
    shift: ShiftTemplate,
    first_in: datetime | None,
    last_out: datetime | None,
    *,
    closed: bool,
) -> Outcome:
    """The status of a scheduled day from its clock-in and clock-out.

    ``closed`` is whether punches can no longer count for the day (its window has passed). Until
    then a day without a clock-out, or with a clock-out before the end, is ``pending``: the person
    may still punch."""
    if first_in is None:
        return Outcome(Status.ABSENT if closed else Status.PENDING)
    late = first_in > times.start + timedelta(minutes=shift.late_grace_minutes)
    late_minutes = _minutes(first_in - times.start) if late else 0
    if last_out is None:
        return Outcome(Status.MISSING_PUNCH if closed else Status.PENDING, late_minutes=late_minutes)
    early = last_out < times.end - timedelta(minutes=shift.early_grace_minutes)
    if early and not closed:
        return Outcome(Status.PENDING, late_minutes=late_minutes)
    early_minutes = _minutes(times.end - last_out) if early else 0
    if late and early:
        status = Status.LATE_AND_EARLY
    elif late:
        status = Status.LATE
    elif early:
        status = Status.LEFT_EARLY
    else:
        status = Status.ON_TIME
    return Outcome(status, late_minutes=late_minutes, early_minutes=early_minutes)


def day_record_compute(
    *, brand: Brand, staff: Staff, date: date, store: Store | None = None, now: datetime | None = None
) -> DayRecord | None:
    """Compute (again) the person's record of ``date`` from the schedule and the punches.

    A record a manager corrected (``corrected=True``) is returned as it is and never overwritten:
    the correction is the manager's decision with a reason, and a punch arriving later (offline
    devices) must not silently undo it. The manager corrects again if the new punch matters.

    Without a shift and without punches there is no record (an earlier one is removed); ``store``
    is the store of an unscheduled day (the punch's store; else the person's first store).
    """
    _own(brand, staff, store)
    now = now or timezone.now()
    day = date
    with brand_scope(brand):
        current = DayRecord.objects.for_brand(brand).select_for_update().filter(staff=staff, date=day).first()
        if current is not None and current.corrected:
            return current
        schedule = _schedule_of(brand, staff, day)
        values: dict[str, Any]
        if schedule is not None:
            times = shift_times(day, schedule.shift, schedule.store)
            lo, hi = times.window
            punches = _punch_times(brand, staff, lo, hi)
            first_in = punches[0].occurred_at if punches else None
            last_out = punches[-1].occurred_at if len(punches) > 1 else None
            outcome = judge(times, schedule.shift, first_in, last_out, closed=now >= hi)
            values = {"store": schedule.store, "schedule": schedule}
        else:
            store = store or (current.store if current else None) or _default_store(brand, staff)
            punches = _unscheduled_punches(brand, staff, store, day) if store is not None else []
            if not punches:
                if current is not None:
                    current.delete()
                return None
            first_in = punches[0].occurred_at
            last_out = punches[-1].occurred_at if len(punches) > 1 else None
            outcome = Outcome(Status.UNSCHEDULED)
            values = {"store": store, "schedule": None}
        values.update(
            first_in=first_in,
            last_out=last_out,
            status=outcome.status,
            late_minutes=outcome.late_minutes,
            early_minutes=outcome.early_minutes,
            computed_at=now,
        )
        if current is None:
            try:
                with transaction.atomic():
                    return DayRecord.objects.create(brand=brand, staff=staff, date=day, **values)
            except IntegrityError:
                current = DayRecord.objects.for_brand(brand).select_for_update().get(staff=staff, date=day)
                if current.corrected:
                    return current
        for field, value in values.items():
            setattr(current, field, value)
        current.save()
        return current


# --- corrections -------------------------------------------------------------------------------


def _snapshot(day: DayRecord) -> dict[str, Any]:
    return {
        "first_in": day.first_in.isoformat() if day.first_in else None,
        "last_out": day.last_out.isoformat() if day.last_out else None,
        "status": day.status,
        "late_minutes": day.late_minutes,
        "early_minutes": day.early_minutes,
    }


def _aware(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise ValidationError({field: _("A time with its time zone.")}, code="invalid")
    return value


def correction_add(
    *,
    brand: Brand,
    manager: Staff,
    actor: Actor,
    day: DayRecord,
    reason: str,
    first_in: datetime | None = None,
    last_out: datetime | None = None,
    status: str | None = None,
) -> Correction:
    """A manager's correction of a day record, with a reason (required, at most 200 characters).

    Times given replace the punched ones; without an explicit status it is judged again from the
    corrected times against the shift (as a finished day). The record is marked corrected, so
    later recomputes keep it; the before and after are kept and the change is audited."""
    _own(brand, day)
    with brand_scope(brand):
        store = Store.objects.for_brand(brand).get(pk=day.store_id)
    _require_store_manager(brand, manager, store)
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise ValidationError({"reason": _("Give a reason of at most 200 characters.")}, code="invalid")
    first_in, last_out = _aware(first_in, "first_in"), _aware(last_out, "last_out")
    if status is not None and status not in Status.values:
        raise ValidationError({"status": _("Unknown status.")}, code="invalid")
    if first_in is None and last_out is None and status is None:
        raise ValidationError(_("Nothing to correct."), code="invalid")
    with brand_scope(brand):
        day = (
            DayRecord.objects.for_brand(brand)
            .select_for_update(of=("self",))
            .select_related("schedule__shift")
            .get(pk=day.pk)
        )
        before = _snapshot(day)
        new_in = first_in if first_in is not None else day.first_in
        new_out = last_out if last_out is not None else day.last_out
        if new_in and new_out and new_out < new_in:
            raise ValidationError(_("The clock-out cannot be before the clock-in."), code="invalid")
        day.first_in, day.last_out = new_in, new_out
        schedule = day.schedule
        if schedule is not None:
            outcome = judge(
                shift_times(day.date, schedule.shift, store), schedule.shift, new_in, new_out, closed=True
            )
        else:
            outcome = Outcome(Status.UNSCHEDULED if new_in else Status.ABSENT)
        if status is not None:
            outcome.status = status
            if status not in (Status.LATE, Status.LATE_AND_EARLY):
                outcome.late_minutes = 0
            if status not in (Status.LEFT_EARLY, Status.LATE_AND_EARLY):
                outcome.early_minutes = 0
        day.status = outcome.status
        day.late_minutes, day.early_minutes = outcome.late_minutes, outcome.early_minutes
        day.corrected = True
        day.save()
        after = _snapshot(day)
        correction = Correction.objects.create(
            brand=brand, day=day, by=manager, reason=reason, before=before, after=after
        )
        record(
            brand=brand,
            actor=actor,
            action="attendance.correction",
            target=day,
            target_repr=f"{day.staff_id} {day.date.isoformat()}",
            data={
                "staff_id": day.staff_id,
                "date": day.date.isoformat(),
                "reason": reason,
                "before": before,
                "after": after,
            },
        )
    return correction
