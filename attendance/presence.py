"""Is a person at work now? Read from the schedule (shifts in the store's own time zone, an end
before the start running past midnight) and the punches, for messaging's auto-reply.

* ``on_shift``: a scheduled shift (today's, or last night's overnight one) has started and not
  ended at ``at``.
* ``clocked_in``: the punches that count for that shift's day (its window, start − 4 h to end + 6 h,
  up to ``at``), or without a shift the punches of the store's local day, alternate in and out:
  an odd number means in. Two punches within ``DOUBLE_PUNCH`` of each other are one (a second
  look at the kiosk, a double tap).
* ``shift_ends`` / ``shift_starts``: the current shift's end and start (or the next shift's start
  when off shift), ``last_shift_ended``: the end of the latest shift before ``at`` (the start of
  the off-shift quiet period), ``scheduled``: a shift's window covers ``at``.

Three queries at most: the schedules around ``at``, the person's first store (only without a
schedule, for the time zone) and the punches."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from attendance.models import Punch, Schedule
from attendance.records import local_date, shift_times, store_tz
from retail.models import Brand, StaffStore
from retail.tenancy import brand_scope

DOUBLE_PUNCH = timedelta(minutes=3)


def _count_alternating(times: list[datetime]) -> int:
    """Punches in time order, a punch within DOUBLE_PUNCH of the previous one counted once."""
    n, last = 0, None
    for t in times:
        if last is None or t - last > DOUBLE_PUNCH:
            n += 1
        last = t
    return n


def presence(*, brand: Brand, staff_id: int, at: datetime | None = None) -> dict[str, Any]:
    """Whether ``staff_id`` is on shift and clocked in at ``at`` (default now); see the module."""
    at = at or timezone.now()
    utc_day = at.astimezone(UTC).date()
    out: dict[str, Any] = {
        "on_shift": False,
        "clocked_in": False,
        "shift_ends": None,
        "shift_starts": None,
        "last_shift_ended": None,
        "scheduled": False,
    }
    with brand_scope(brand):
        # Any time zone's local "yesterday, today, tomorrow" lies within UTC's day −2 … +2.
        schedules = list(
            Schedule.objects.for_brand(brand)
            .select_related("shift", "store")
            .filter(
                staff_id=staff_id,
                date__gte=utc_day - timedelta(days=2),
                date__lte=utc_day + timedelta(days=2),
            )
            .order_by("date")
        )
        current = None
        current_times = None
        for s in schedules:
            times = shift_times(s.date, s.shift, s.store)
            lo, hi = times.window
            if times.start <= at < times.end:
                current, current_times = s, times
                out.update(on_shift=True, shift_ends=times.end, shift_starts=times.start)
            if times.end <= at and (out["last_shift_ended"] is None or times.end > out["last_shift_ended"]):
                out["last_shift_ended"] = times.end
            if (
                at < times.start
                and not out["on_shift"]
                and (out["shift_starts"] is None or times.start < out["shift_starts"])
            ):
                out["shift_starts"] = times.start
            if current is None and lo <= at < hi:
                # Within the window but outside the shift: the punches still count for that day.
                current, current_times = s, times
        if current is not None:
            out["scheduled"] = True
            lo = current_times.window[0]
        else:
            store = schedules[0].store if schedules else None
            if store is None:
                link = (
                    StaffStore.objects.for_brand(brand)
                    .select_related("store")
                    .filter(staff_id=staff_id)
                    .order_by("store_id")
                    .first()
                )
                store = link.store if link else None
            tz = store_tz(store) if store is not None else timezone.get_default_timezone()
            day = local_date(store, at) if store is not None else at.astimezone(tz).date()
            lo = datetime.combine(day, time(0), tzinfo=tz)
        punches = list(
            Punch.objects.for_brand(brand)
            .filter(staff_id=staff_id, occurred_at__gte=lo, occurred_at__lte=at)
            .order_by("occurred_at", "id")
            .values_list("occurred_at", flat=True)
        )
    out["clocked_in"] = _count_alternating(punches) % 2 == 1
    return out
