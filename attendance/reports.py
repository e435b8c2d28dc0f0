"""Reading working time: day records of a store or a person, the monthly summary, its CSV, and
who is in the store now."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from attendance.models import DayRecord
from attendance.records import local_date, shift_times
from retail import csv_export, roles
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope

Status = DayRecord.Status


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first and the last date of the month."""
    if not 1 <= int(month) <= 12 or not 2000 <= int(year) <= 2100:
        raise Http404("No such month.")
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _own(brand: Brand, *objs: Any) -> None:
    for obj in objs:
        if obj is not None and obj.brand_id != brand.pk:
            raise Http404("Not found.")


def store_day_records(*, brand: Brand, viewer: Staff, store: Store, year: int, month: int) -> list[DayRecord]:
    """The store's day records of the month: its managers and brand admins."""
    _own(brand, store)
    roles.require(brand, viewer, roles.can_manage_store(viewer, store.pk))
    first, last = month_bounds(year, month)
    with brand_scope(brand):
        return list(
            DayRecord.objects.for_brand(brand)
            .select_related("staff", "schedule__shift")
            .filter(store=store, date__range=(first, last))
            .order_by("date", "staff__name", "staff_id")
        )


def person_day_records(
    *, brand: Brand, viewer: Staff, staff: Staff, year: int, month: int
) -> list[DayRecord]:
    """A person's day records of the month ("我的考勤"): the person, a manager of one of their
    stores, or a brand admin."""
    _own(brand, staff)
    allowed = (
        viewer.pk == staff.pk
        or roles.sees_all_stores(viewer)
        or (
            viewer.role == Staff.Role.STORE_MANAGER and bool(roles.store_ids(viewer) & roles.store_ids(staff))
        )
    )
    roles.require(brand, viewer, allowed)
    first, last = month_bounds(year, month)
    with brand_scope(brand):
        return list(
            DayRecord.objects.for_brand(brand)
            .select_related("store", "schedule__shift", "schedule__store")
            .filter(staff=staff, date__range=(first, last))
            .order_by("date")
        )


SUMMARY_KEYS = (
    "scheduled",
    "on_time",
    "late",
    "left_early",
    "absent",
    "missing",
    "unscheduled",
    "pending",
    "late_minutes",
    "early_minutes",
    "corrected",
)


def month_summary(
    *, brand: Brand, viewer: Staff, store: Store, year: int, month: int
) -> list[dict[str, Any]]:
    """One row per person with a record in the store that month: days scheduled, on time, late,
    left early (a day both late and early counts in both), absent, missing punch, worked without a
    shift, still in progress, minutes late and early, and days corrected by a manager."""
    return summarise(store_day_records(brand=brand, viewer=viewer, store=store, year=year, month=month))


def summarise(days: Iterable[DayRecord]) -> list[dict[str, Any]]:
    """``month_summary`` of day records already read (with their staff)."""
    rows: dict[int, dict[str, Any]] = {}
    for day in days:
        row = rows.get(day.staff_id)
        if row is None:
            row = rows[day.staff_id] = {
                "staff_id": day.staff_id,
                "name": day.staff.name,
                **dict.fromkeys(SUMMARY_KEYS, 0),
            }
        if day.schedule_id is not None or day.status != Status.UNSCHEDULED:
            row["scheduled"] += 1
        status = day.status
        if status == Status.ON_TIME:
            row["on_time"] += 1
        if status in (Status.LATE, Status.LATE_AND_EARLY):
            row["late"] += 1
        if status in (Status.LEFT_EARLY, Status.LATE_AND_EARLY):
            row["left_early"] += 1
        if status == Status.ABSENT:
            row["absent"] += 1
        if status == Status.MISSING_PUNCH:
            row["missing"] += 1
        if status == Status.UNSCHEDULED:
            row["unscheduled"] += 1
        if status == Status.PENDING:
            row["pending"] += 1
        row["late_minutes"] += day.late_minutes
        row["early_minutes"] += day.early_minutes
        row["corrected"] += int(day.corrected)
    return sorted(rows.values(), key=lambda r: (r["name"], r["staff_id"]))


def month_summary_csv_rows(
    *, brand: Brand, viewer: Staff, store: Store, year: int, month: int
) -> Iterator[list[Any]]:
    """The monthly summary as CSV rows (header first) for retail.csv_export, which quotes any name
    a spreadsheet would run as a formula."""
    rows = month_summary(brand=brand, viewer=viewer, store=store, year=year, month=month)
    yield [
        _("Store"),
        _("Month"),
        _("Name"),
        _("Days scheduled"),
        _("On time"),
        _("Late"),
        _("Left early"),
        _("Absent"),
        _("Missing punch"),
        _("Worked without a shift"),
        _("In progress"),
        _("Minutes late"),
        _("Minutes early"),
        _("Corrected"),
    ]
    label = f"{int(year):04d}-{int(month):02d}"
    for row in rows:
        yield [store.name, label, row["name"], *(int(row[k]) for k in SUMMARY_KEYS)]


def month_summary_csv(*, brand: Brand, viewer: Staff, store: Store, year: int, month: int) -> bytes:
    """The monthly summary as the bytes of a CSV file (UTF-8 with a BOM)."""
    return csv_export.csv_bytes(
        month_summary_csv_rows(brand=brand, viewer=viewer, store=store, year=year, month=month)
    )


# How long someone without a shift who clocked in and not out counts as in the store.
UNSCHEDULED_IN_HOURS = timedelta(hours=12)


def who_is_in(
    *, brand: Brand, viewer: Staff, store: Store, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The people in the store now, for its managers: today's (or last night's overnight) day
    records at the store with a clock-in and no clock-out yet after the end of their shift, while
    the shift's punch window is open. Without a shift, someone who punched once (today, or last
    night before midnight) and not again, within the last ``UNSCHEDULED_IN_HOURS``. Someone who
    punched out early is not told apart from a break: they count as in until their shift ends."""
    _own(brand, store)
    roles.require(brand, viewer, roles.can_manage_store(viewer, store.pk))
    now = now or timezone.now()
    today = local_date(store, now)
    rows = []
    with brand_scope(brand):
        records = (
            DayRecord.objects.for_brand(brand)
            .select_related("staff", "schedule__shift", "schedule__store")
            .filter(store=store, date__in=[today - timedelta(days=1), today], first_in__isnull=False)
            .order_by("first_in", "staff_id")
        )
        seen: set[int] = set()
        for day in records:
            schedule = day.schedule
            if schedule is not None:
                times = shift_times(day.date, schedule.shift, schedule.store)
                lo, hi = times.window
                if not lo <= now < hi:
                    continue
                ends = times.end - timedelta(minutes=schedule.shift.early_grace_minutes)
                if day.last_out is not None and day.last_out >= ends:
                    continue
                shift_name, shift_end = schedule.shift.name, times.end
            else:
                if day.last_out is not None or not now - UNSCHEDULED_IN_HOURS <= day.first_in <= now:
                    continue
                shift_name, shift_end = "", None
            if day.staff_id in seen:
                continue
            seen.add(day.staff_id)
            rows.append(
                {
                    "staff_id": day.staff_id,
                    "name": day.staff.name,
                    "date": day.date,
                    "first_in": day.first_in,
                    "last_punch": day.last_out or day.first_in,
                    "shift": shift_name,
                    "shift_end": shift_end,
                    "status": day.status,
                    "late_minutes": day.late_minutes,
                }
            )
    return rows


def punches_by_day_record(days: Iterable[DayRecord], punches: Iterable[Any], tz) -> dict[int, list[Any]]:
    """Each punch under the day record it counts toward (record id → punches in time order): the
    record whose shift's punch window holds it (an overnight shift's punches after midnight stay
    with the day it started), else the record of the punch's local date. Punches of no record
    given (the neighbouring month's overnight shift) are left out."""
    days = list(days)
    windows = [
        (day, *shift_times(day.date, day.schedule.shift, day.schedule.store).window)
        for day in days
        if day.schedule is not None
    ]
    by_date = {day.date: day for day in days}
    out: dict[int, list[Any]] = {day.pk: [] for day in days}
    for punch in punches:
        owner = next((day for day, lo, hi in windows if lo <= punch.occurred_at < hi), None)
        if owner is None:
            owner = by_date.get(timezone.localtime(punch.occurred_at, tz).date())
        if owner is not None:
            out[owner.pk].append(punch)
    return out
