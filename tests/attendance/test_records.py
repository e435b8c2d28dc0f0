"""Shifts, schedules, punches and day records, corrections, and the monthly reports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from attendance import records, reports
from attendance.models import Correction, DayRecord, Punch, Schedule, ShiftTemplate
from devices import services as device_services
from devices.models import DeviceEvent
from retail.events import Actor
from retail.models import AuditLog, Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory, StoreFactory

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 2)  # a Monday, long over when the tests run
KIOSK = Punch.Source.KIOSK_PIN


def at(day: date, hh: int, mm: int = 0) -> datetime:
    """A Shanghai wall-clock time, stored in UTC as the punches are."""
    return datetime.combine(day, time(hh, mm), tzinfo=SH).astimezone(UTC)


@pytest.fixture
def shift(brand, store, store_manager):
    return records.shift_create(
        brand=brand,
        manager=store_manager,
        actor=Actor.system(),
        store=store,
        data={
            "name": "早班",
            "start": "09:00",
            "end": "18:00",
            "late_grace_minutes": 5,
            "early_grace_minutes": 0,
        },
    )


@pytest.fixture
def night(brand, store, store_manager):
    return records.shift_create(
        brand=brand,
        manager=store_manager,
        actor=Actor.system(),
        store=store,
        data={
            "name": "夜班",
            "start": "22:00",
            "end": "06:00",
            "late_grace_minutes": 10,
            "early_grace_minutes": 15,
        },
    )


def schedule(brand, manager, store, staff, shift, *days):
    return records.schedule_set(
        brand=brand,
        manager=manager,
        actor=Actor.system(),
        store=store,
        staff=staff,
        days=list(days),
        shift=shift,
    )


def punch(brand, staff, store, when, **kwargs):
    return records.punch_record(
        brand=brand, staff=staff, store=store, occurred_at=when, source=KIOSK, **kwargs
    )


def day_of(brand, staff, day=DAY):
    with brand_scope(brand):
        return DayRecord.objects.for_brand(brand).filter(staff=staff, date=day).first()


# --- shifts ------------------------------------------------------------------------------------


def test_shift_create_and_update_audited(brand, store, store_manager, shift):
    assert (shift.start, shift.end, shift.late_grace_minutes) == (time(9), time(18), 5)
    updated = records.shift_update(
        brand=brand,
        manager=store_manager,
        actor=Actor.system(),
        store=store,
        shift=shift,
        data={"late_grace_minutes": 10},
    )
    assert updated.late_grace_minutes == 10
    with brand_scope(brand):
        actions = list(
            AuditLog.objects.for_brand(brand).filter(action="attendance.shift").values_list("data", flat=True)
        )
    assert len(actions) == 2 and {"changes": {"late_grace_minutes": ["5", "10"]}} in actions


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x", "start": "9点", "end": "18:00"},
        {"name": "x", "start": "09:00", "end": "09:00"},
        {"name": "x", "start": "09:00", "end": "18:00", "late_grace_minutes": 121},
        {"name": "x", "start": "09:00", "end": "18:00", "early_grace_minutes": -1},
        {"name": "", "start": "09:00", "end": "18:00"},
        {"name": "x", "start": "09:00"},
    ],
)
def test_shift_bad_input_writes_nothing(brand, store, store_manager, data):
    with pytest.raises(ValidationError):
        records.shift_create(brand=brand, manager=store_manager, actor=Actor.system(), store=store, data=data)
    with brand_scope(brand):
        assert not ShiftTemplate.objects.for_brand(brand).exists()
        assert not AuditLog.objects.for_brand(brand).filter(action="attendance.shift").exists()


def test_shift_duplicate_name_refused(brand, store, store_manager, shift):
    with pytest.raises(ValidationError):
        records.shift_create(
            brand=brand,
            manager=store_manager,
            actor=Actor.system(),
            store=store,
            data={"name": "早班", "start": "10:00", "end": "19:00"},
        )


def test_shift_only_managers_of_the_store(brand, store, guide, other_brand, other_store, other_admin):
    data = {"name": "早班", "start": "09:00", "end": "18:00"}
    with pytest.raises(PermissionDenied):
        records.shift_create(brand=brand, manager=guide, actor=Actor.system(), store=store, data=data)
    elsewhere = StoreFactory(brand=brand, code="SH002", name="淮海路店")
    manager_elsewhere = StaffFactory(brand=brand, role=Staff.Role.STORE_MANAGER, stores=[elsewhere])
    with pytest.raises(PermissionDenied):
        records.shift_create(
            brand=brand, manager=manager_elsewhere, actor=Actor.system(), store=store, data=data
        )
    with pytest.raises(Http404):  # another brand's store
        records.shift_create(
            brand=brand, manager=manager_elsewhere, actor=Actor.system(), store=other_store, data=data
        )
    with pytest.raises(PermissionDenied):  # another brand's admin
        records.shift_create(brand=brand, manager=other_admin, actor=Actor.system(), store=store, data=data)


# --- schedules ---------------------------------------------------------------------------------


def test_schedule_set_replaces_and_clear(brand, store, store_manager, guide, shift, night):
    schedule(brand, store_manager, store, guide, shift, DAY, DAY + timedelta(days=1))
    schedule(brand, store_manager, store, guide, night, DAY)
    with brand_scope(brand):
        rows = dict(Schedule.objects.for_brand(brand).filter(staff=guide).values_list("date", "shift_id"))
    assert rows == {DAY: night.pk, DAY + timedelta(days=1): shift.pk}
    # the past scheduled days without punches are absent
    assert day_of(brand, guide).status == DayRecord.Status.ABSENT
    removed = records.schedule_clear(
        brand=brand, manager=store_manager, actor=Actor.system(), store=store, staff=guide, days=[DAY]
    )
    assert removed == 1 and day_of(brand, guide) is None
    with brand_scope(brand):
        audited = set(AuditLog.objects.for_brand(brand).values_list("action", flat=True))
    assert {"attendance.schedule", "attendance.schedule_cleared"} <= audited


def test_schedule_refuses_staff_of_another_store_and_brand(brand, store, store_manager, shift, other_brand):
    elsewhere = StoreFactory(brand=brand, code="SH002", name="淮海路店")
    stranger = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[elsewhere])
    with pytest.raises(ValidationError):
        schedule(brand, store_manager, store, stranger, shift, DAY)
    foreign = StaffFactory(brand=other_brand, role=Staff.Role.GUIDE)
    with pytest.raises(Http404):
        schedule(brand, store_manager, store, foreign, shift, DAY)
    with pytest.raises(ValidationError):
        schedule(brand, store_manager, store, stranger, shift)  # no dates
    with brand_scope(brand):
        assert not Schedule.objects.for_brand(brand).exists()
        assert not AuditLog.objects.for_brand(brand).filter(action="attendance.schedule").exists()


def test_schedule_refuses_a_shift_of_another_store(brand, store, store_manager, guide):
    elsewhere = StoreFactory(brand=brand, code="SH002", name="淮海路店")
    admin = StaffFactory(brand=brand, role=Staff.Role.BRAND_ADMIN)
    other_shift = records.shift_create(
        brand=brand,
        manager=admin,
        actor=Actor.system(),
        store=elsewhere,
        data={"name": "早", "start": "9:00", "end": "17:00"},
    )
    with pytest.raises(Http404):
        schedule(brand, store_manager, store, guide, other_shift, DAY)


# --- day records -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("punches", "status", "late", "early"),
    [
        ([(8, 55), (18, 2)], "on_time", 0, 0),
        ([(9, 5), (18, 0)], "on_time", 0, 0),  # within the 5 grace minutes
        ([(9, 6), (18, 0)], "late", 6, 0),
        ([(8, 50), (17, 30)], "left_early", 0, 30),
        ([(9, 20), (17, 0)], "late_early", 20, 60),
        ([(8, 58)], "missing", 0, 0),
        ([(8, 58), (12, 0), (18, 1)], "on_time", 0, 0),  # first in, last out
        ([], "absent", 0, 0),
    ],
)
def test_day_statuses(brand, store, store_manager, guide, shift, punches, status, late, early):
    schedule(brand, store_manager, store, guide, shift, DAY)
    for hh, mm in punches:
        punch(brand, guide, store, at(DAY, hh, mm))
    day = day_of(brand, guide)
    assert (day.status, day.late_minutes, day.early_minutes) == (status, late, early)
    if punches:
        assert day.first_in == at(DAY, *punches[0])


def test_punches_outside_the_window_do_not_count(brand, store, store_manager, guide, shift):
    schedule(brand, store_manager, store, guide, shift, DAY)
    punch(brand, guide, store, at(DAY, 4, 59))  # before start − 4 h: an unscheduled-day punch
    punch(brand, guide, store, at(DAY, 9, 0))
    assert day_of(brand, guide).status == "missing"


def test_unscheduled_day(brand, store, guide):
    punch(brand, guide, store, at(DAY, 10))
    punch(brand, guide, store, at(DAY, 15))
    day = day_of(brand, guide)
    assert (day.status, day.schedule_id, day.store_id) == ("unscheduled", None, store.pk)


def test_pending_today(brand, store, store_manager, guide, shift):
    schedule(brand, store_manager, store, guide, shift, DAY)
    during = at(DAY, 11)
    assert records.day_record_compute(brand=brand, staff=guide, date=DAY, now=during).status == "pending"
    punch(brand, guide, store, at(DAY, 9, 30))
    day = records.day_record_compute(brand=brand, staff=guide, date=DAY, now=during)
    assert (day.status, day.late_minutes) == ("pending", 30)
    # once the window has closed the same punches are final
    assert records.day_record_compute(brand=brand, staff=guide, date=DAY).status == "missing"


def test_overnight_shift(brand, store, store_manager, guide, night):
    schedule(brand, store_manager, store, guide, night, DAY)
    nxt = DAY + timedelta(days=1)
    punch(brand, guide, store, at(DAY, 22, 12))
    punch(brand, guide, store, at(nxt, 5, 50))  # within the 15 early-grace minutes
    day = day_of(brand, guide)
    assert (day.status, day.late_minutes, day.early_minutes) == ("late", 12, 0)
    assert day.last_out == at(nxt, 5, 50)
    # the morning punch belongs to the night before, not to an unscheduled next day
    assert day_of(brand, guide, nxt) is None
    punch(brand, guide, store, at(nxt, 5, 40))  # not the last punch: nothing changes
    assert day_of(brand, guide).status == "late"


def test_overnight_left_early(brand, store, store_manager, guide, night):
    schedule(brand, store_manager, store, guide, night, DAY)
    punch(brand, guide, store, at(DAY, 21, 55))
    punch(brand, guide, store, at(DAY + timedelta(days=1), 3, 0))
    day = day_of(brand, guide)
    assert (day.status, day.early_minutes) == ("left_early", 180)


def test_time_zones(brand, store, brand_admin, guide):
    """A store's day is its own local day: 06:03 on 2 March in Shanghai is 1 March in UTC."""
    assert store.timezone == "Asia/Shanghai"
    shift = records.shift_create(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        store=store,
        data={"name": "早早班", "start": "6:00", "end": "14:00"},
    )
    schedule(brand, brand_admin, store, guide, shift, DAY)
    early = datetime(2026, 3, 1, 22, 3, tzinfo=UTC)
    p = punch(brand, guide, store, early)
    punch(brand, guide, store, datetime(2026, 3, 2, 6, 0, tzinfo=UTC))  # 14:00 in Shanghai
    with brand_scope(brand):
        stored = Punch.objects.for_brand(brand).get(pk=p.pk)
    assert stored.occurred_at == early
    day = day_of(brand, guide, DAY)
    assert (day.status, day.first_in, day.last_out) == ("on_time", early, datetime(2026, 3, 2, 6, tzinfo=UTC))
    assert day_of(brand, guide, date(2026, 3, 1)) is None


def test_store_in_another_time_zone(brand, guide):
    """The same UTC instant falls on different local days in Berlin and Shanghai."""
    berlin = StoreFactory(brand=brand, code="DE001", name="柏林店", timezone="Europe/Berlin")
    instant = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # 21:00 Berlin on 1 March, 04:00 Shanghai on 2 March
    assert records.local_date(berlin, instant) == date(2026, 3, 1)
    punch(brand, guide, berlin, instant)
    assert day_of(brand, guide, date(2026, 3, 1)).store_id == berlin.pk


def test_day_records_recomputed_by_a_late_offline_punch(brand, store, store_manager, guide, shift):
    schedule(brand, store_manager, store, guide, shift, DAY)
    punch(brand, guide, store, at(DAY, 8, 55))
    assert day_of(brand, guide).status == "missing"
    # three days later a kiosk reconnects and sends the clock-out it kept with its original time
    late = punch(brand, guide, store, at(DAY, 18, 3), offline=True)
    assert late.offline
    day = day_of(brand, guide)
    assert (day.status, day.last_out) == ("on_time", at(DAY, 18, 3))
    # and an offline clock-in earlier than the one known moves the day's first punch
    punch(brand, guide, store, at(DAY, 8, 40), offline=True)
    assert day_of(brand, guide).first_in == at(DAY, 8, 40)


def test_punch_idempotent_by_device_event(brand, store, store_manager, guide, shift):
    schedule(brand, store_manager, store, guide, shift, DAY)
    device, _code = device_services.device_create(
        brand=brand, manager=store_manager, actor=Actor.system(), store=store, data={"name": "前台打卡机"}
    )
    with brand_scope(brand):
        event = DeviceEvent.objects.create(
            brand=brand,
            device=device,
            event_id="e-1",
            type=DeviceEvent.Type.PUNCH,
            device_time=at(DAY, 9),
            occurred_at=at(DAY, 9),
            offline=True,
        )
    first = punch(brand, guide, store, at(DAY, 9), device=device, device_event=event, offline=True)
    again = punch(brand, guide, store, at(DAY, 9), device=device, device_event=event, offline=True)
    assert first.pk == again.pk
    with brand_scope(brand):
        assert Punch.objects.for_brand(brand).filter(staff=guide).count() == 1


def test_punch_bad_input_and_other_brand(brand, store, guide, other_brand, other_store):
    with pytest.raises(ValidationError):
        records.punch_record(
            brand=brand, staff=guide, store=store, occurred_at=at(DAY, 9), source="telepathy"
        )
    with pytest.raises(ValidationError):
        records.punch_record(
            brand=brand, staff=guide, store=store, occurred_at=datetime(2026, 3, 2, 9), source=KIOSK
        )
    with pytest.raises(Http404):
        punch(brand, guide, other_store, at(DAY, 9))
    foreign = StaffFactory(brand=other_brand, role=Staff.Role.GUIDE, stores=[other_store])
    with pytest.raises(Http404):
        punch(brand, foreign, store, at(DAY, 9))
    with brand_scope(brand):
        assert not Punch.objects.for_brand(brand).exists()
        assert not DayRecord.objects.for_brand(brand).exists()


# --- corrections -------------------------------------------------------------------------------


def test_correction_audited_and_kept_by_recompute(brand, store, store_manager, guide, shift):
    schedule(brand, store_manager, store, guide, shift, DAY)
    punch(brand, guide, store, at(DAY, 9, 30))
    day = day_of(brand, guide)
    assert day.status == "missing"
    correction = records.correction_add(
        brand=brand,
        manager=store_manager,
        actor=Actor.system(),
        day=day,
        reason="打卡机故障，店长确认 18:00 下班",
        last_out=at(DAY, 18),
    )
    assert correction.before["status"] == "missing" and correction.after["status"] == "late"
    day = day_of(brand, guide)
    assert (day.corrected, day.status, day.late_minutes, day.last_out) == (True, "late", 30, at(DAY, 18))
    with brand_scope(brand):
        log = AuditLog.objects.for_brand(brand).get(action="attendance.correction")
    assert log.data["reason"].startswith("打卡机故障") and log.data["after"]["status"] == "late"
    # a late punch recomputes, but the corrected record stays as the manager left it
    punch(brand, guide, store, at(DAY, 17, 0), offline=True)
    assert records.day_record_compute(brand=brand, staff=guide, date=DAY).status == "late"
    assert day_of(brand, guide).last_out == at(DAY, 18)
    # an explicit status
    records.correction_add(
        brand=brand, manager=store_manager, actor=Actor.system(), day=day, reason="交通管制", status="on_time"
    )
    day = day_of(brand, guide)
    assert (day.status, day.late_minutes) == ("on_time", 0)
    with brand_scope(brand):
        assert Correction.objects.for_brand(brand).filter(day=day).count() == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"reason": ""},
        {"reason": "x" * 201},
        {"reason": "ok", "status": "holiday"},
        {"reason": "ok"},  # nothing to change
        {"reason": "ok", "first_in": datetime(2026, 3, 2, 9)},  # naive
    ],
)
def test_correction_bad_input_writes_nothing(brand, store, store_manager, guide, shift, kwargs):
    schedule(brand, store_manager, store, guide, shift, DAY)
    day = day_of(brand, guide)
    with pytest.raises(ValidationError):
        records.correction_add(brand=brand, manager=store_manager, actor=Actor.system(), day=day, **kwargs)
    with brand_scope(brand):
        assert not Correction.objects.for_brand(brand).exists()
        assert not DayRecord.objects.for_brand(brand).filter(corrected=True).exists()
        assert not AuditLog.objects.for_brand(brand).filter(action="attendance.correction").exists()


def test_correction_out_before_in_refused(brand, store, store_manager, guide, shift):
    schedule(brand, store_manager, store, guide, shift, DAY)
    punch(brand, guide, store, at(DAY, 9))
    with pytest.raises(ValidationError):
        records.correction_add(
            brand=brand,
            manager=store_manager,
            actor=Actor.system(),
            day=day_of(brand, guide),
            reason="补卡",
            last_out=at(DAY, 8),
        )
    assert not day_of(brand, guide).corrected


def test_correction_permissions(brand, store, store_manager, guide, shift, other_brand, other_admin):
    schedule(brand, store_manager, store, guide, shift, DAY)
    day = day_of(brand, guide)
    with pytest.raises(PermissionDenied):
        records.correction_add(
            brand=brand, manager=guide, actor=Actor.system(), day=day, reason="x", status="on_time"
        )
    with pytest.raises(PermissionDenied):
        records.correction_add(
            brand=brand, manager=other_admin, actor=Actor.system(), day=day, reason="x", status="on_time"
        )
    with pytest.raises(Http404):  # a day of this brand used as another brand's
        records.correction_add(
            brand=other_brand,
            manager=other_admin,
            actor=Actor.system(),
            day=day,
            reason="x",
            status="on_time",
        )
    assert not day_of(brand, guide).corrected


# --- reports -----------------------------------------------------------------------------------


def test_month_summary_and_csv(brand, store, store_manager, guide, shift):
    evil = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="=HYPERLINK(1)")
    d1, d2, d3, d4 = (DAY + timedelta(days=i) for i in range(4))
    schedule(brand, store_manager, store, guide, shift, d1, d2, d3, d4)
    schedule(brand, store_manager, store, evil, shift, d1)
    punch(brand, guide, store, at(d1, 8, 55))
    punch(brand, guide, store, at(d1, 18, 0))
    punch(brand, guide, store, at(d2, 9, 20))
    punch(brand, guide, store, at(d2, 18, 0))
    punch(brand, guide, store, at(d3, 9, 0))  # missing; d4 absent
    rows = reports.month_summary(brand=brand, viewer=store_manager, store=store, year=2026, month=3)
    mine = next(r for r in rows if r["staff_id"] == guide.pk)
    assert {
        k: mine[k]
        for k in ("scheduled", "on_time", "late", "left_early", "absent", "missing", "late_minutes")
    } == {
        "scheduled": 4,
        "on_time": 1,
        "late": 1,
        "left_early": 0,
        "absent": 1,
        "missing": 1,
        "late_minutes": 20,
    }
    data = reports.month_summary_csv(brand=brand, viewer=store_manager, store=store, year=2026, month=3)
    assert data.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(lines) == 3
    assert any(line[2] == "'=HYPERLINK(1)" for line in lines[1:])
    assert [line for line in lines if line[2] == guide.name][0][3:10] == ["4", "1", "1", "0", "1", "1", "0"]


def test_reports_permissions(
    brand, store, store_manager, guide, shift, other_brand, other_store, other_admin
):
    with pytest.raises(PermissionDenied):
        reports.month_summary(brand=brand, viewer=guide, store=store, year=2026, month=3)
    with pytest.raises(PermissionDenied):
        reports.month_summary(brand=brand, viewer=other_admin, store=store, year=2026, month=3)
    with pytest.raises(Http404):
        reports.month_summary(brand=brand, viewer=store_manager, store=other_store, year=2026, month=3)
    with pytest.raises(Http404):
        reports.month_summary(brand=brand, viewer=store_manager, store=store, year=2026, month=13)
    # a guide reads their own month ("我的考勤"), not a colleague's
    schedule(brand, store_manager, store, guide, shift, DAY)
    own = reports.person_day_records(brand=brand, viewer=guide, staff=guide, year=2026, month=3)
    assert [d.date for d in own] == [DAY]
    colleague = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    with pytest.raises(PermissionDenied):
        reports.person_day_records(brand=brand, viewer=colleague, staff=guide, year=2026, month=3)
    assert reports.person_day_records(brand=brand, viewer=store_manager, staff=guide, year=2026, month=3)
    store_rows = reports.store_day_records(brand=brand, viewer=store_manager, store=store, year=2026, month=3)
    assert [d.staff_id for d in store_rows] == [guide.pk]


def test_who_is_in(brand, store, store_manager, guide, shift, night):
    left = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="离开")
    nightowl = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="夜猫")
    walkin = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="临时")
    schedule(brand, store_manager, store, guide, shift, DAY)
    schedule(brand, store_manager, store, left, shift, DAY)
    schedule(brand, store_manager, store, nightowl, night, DAY - timedelta(days=1))
    punch(brand, guide, store, at(DAY, 8, 50))
    punch(brand, guide, store, at(DAY, 12, 0))  # a break: still in before the shift ends
    punch(brand, left, store, at(DAY, 8, 50))
    punch(brand, left, store, at(DAY, 18, 1))  # out after the shift end
    punch(brand, nightowl, store, at(DAY - timedelta(days=1), 22, 0))
    punch(brand, walkin, store, at(DAY, 10, 0))
    in_at_11 = reports.who_is_in(brand=brand, viewer=store_manager, store=store, now=at(DAY, 11))
    assert {r["name"] for r in in_at_11} == {"王芳", "夜猫", "临时"}  # 离开 punched out after the end
    in_at_19 = reports.who_is_in(brand=brand, viewer=store_manager, store=store, now=at(DAY, 19))
    assert {r["name"] for r in in_at_19} == {"王芳", "临时"}
    with pytest.raises(PermissionDenied):
        reports.who_is_in(brand=brand, viewer=guide, store=store)


def test_who_is_in_keeps_someone_without_a_shift_who_clocked_in_before_midnight(brand, store, store_manager):
    walkin = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="临时")
    gone = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="已走")
    punch(brand, walkin, store, at(DAY, 23, 44))
    punch(brand, gone, store, at(DAY, 20, 0))
    punch(brand, gone, store, at(DAY, 23, 50))  # clocked out
    after_midnight = at(DAY + timedelta(days=1), 0, 14)
    inside = reports.who_is_in(brand=brand, viewer=store_manager, store=store, now=after_midnight)
    assert {r["name"] for r in inside} == {"临时"}
    # Without a shift, a clock-in counts for 12 hours: one left without clocking out is not in forever.
    noon = at(DAY + timedelta(days=1), 11, 45)
    assert not reports.who_is_in(brand=brand, viewer=store_manager, store=store, now=noon)
    # Nor is a clock-in that has not happened yet at the time asked about.
    assert not reports.who_is_in(brand=brand, viewer=store_manager, store=store, now=at(DAY, 23, 0))
