"""Presence for messaging: on shift and clocked in now, in the store's time zone, across midnight."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attendance.models import Punch, Schedule, ShiftTemplate
from attendance.presence import presence
from retail.tenancy import brand_scope

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 7)


def at(day, hh, mm=0):
    return datetime.combine(day, time(hh, mm), tzinfo=SH)


def shift(brand, store, name, start, end):
    with brand_scope(brand):
        return ShiftTemplate.objects.create(brand=brand, store=store, name=name, start=start, end=end)


def schedule(brand, store, staff, day, tmpl):
    with brand_scope(brand):
        return Schedule.objects.create(brand=brand, store=store, staff=staff, date=day, shift=tmpl)


def punch(brand, store, staff, when):
    with brand_scope(brand):
        return Punch.objects.create(
            brand=brand, store=store, staff=staff, source="phone_pin", occurred_at=when
        )


@pytest.fixture
def day_shift(brand, store):
    return shift(brand, store, "早班", time(10), time(18))


def test_no_schedule_and_no_punch_is_off_and_out(brand, guide):
    p = presence(brand=brand, staff_id=guide.pk, at=at(DAY, 11))
    assert p["on_shift"] is False and p["clocked_in"] is False and p["shift_ends"] is None


def test_on_shift_not_clocked_in_then_clocked_in_then_out(brand, store, guide, day_shift):
    schedule(brand, store, guide, DAY, day_shift)
    p = presence(brand=brand, staff_id=guide.pk, at=at(DAY, 11))
    assert p["on_shift"] and not p["clocked_in"]
    assert p["shift_ends"] == at(DAY, 18) and p["shift_starts"] == at(DAY, 10)
    punch(brand, store, guide, at(DAY, 9, 55))
    assert presence(brand=brand, staff_id=guide.pk, at=at(DAY, 11))["clocked_in"]
    # A second look at the kiosk a minute later is the same clock-in.
    punch(brand, store, guide, at(DAY, 9, 56))
    assert presence(brand=brand, staff_id=guide.pk, at=at(DAY, 11))["clocked_in"]
    punch(brand, store, guide, at(DAY, 13))
    assert not presence(brand=brand, staff_id=guide.pk, at=at(DAY, 14))["clocked_in"]
    # Punches after ``at`` do not count yet.
    assert presence(brand=brand, staff_id=guide.pk, at=at(DAY, 12))["clocked_in"]


def test_before_and_after_the_shift_is_off_shift(brand, store, guide, day_shift):
    schedule(brand, store, guide, DAY, day_shift)
    before = presence(brand=brand, staff_id=guide.pk, at=at(DAY, 8))
    assert not before["on_shift"] and before["shift_starts"] == at(DAY, 10)
    after = presence(brand=brand, staff_id=guide.pk, at=at(DAY, 20))
    assert not after["on_shift"] and after["last_shift_ended"] == at(DAY, 18)


def test_overnight_shift_is_on_after_midnight(brand, store, guide):
    night = shift(brand, store, "夜班", time(22), time(6))
    schedule(brand, store, guide, DAY, night)
    punch(brand, store, guide, at(DAY, 21, 50))
    p = presence(brand=brand, staff_id=guide.pk, at=at(DAY + timedelta(days=1), 2))
    assert p["on_shift"] and p["clocked_in"]
    assert p["shift_ends"] == at(DAY + timedelta(days=1), 6)
    later = presence(brand=brand, staff_id=guide.pk, at=at(DAY + timedelta(days=1), 7))
    assert not later["on_shift"] and later["last_shift_ended"] == at(DAY + timedelta(days=1), 6)


def test_store_time_zone_decides_the_day(brand, store, guide, day_shift):
    store.timezone = "Europe/London"
    with brand_scope(brand):
        store.save(update_fields=["timezone"])
    schedule(brand, store, guide, DAY, day_shift)
    london = ZoneInfo("Europe/London")
    # 10:30 in London is 18:30 in Shanghai: on shift in the store's own time.
    assert presence(brand=brand, staff_id=guide.pk, at=datetime.combine(DAY, time(10, 30), tzinfo=london))[
        "on_shift"
    ]
    assert not presence(brand=brand, staff_id=guide.pk, at=at(DAY, 10, 30))["on_shift"]


def test_unscheduled_day_counts_the_local_days_punches(brand, store, guide):
    punch(brand, store, guide, at(DAY, 9))
    p = presence(brand=brand, staff_id=guide.pk, at=at(DAY, 12))
    assert p["clocked_in"] and not p["on_shift"] and not p["scheduled"]
    # Yesterday's punch does not make her in today.
    assert not presence(brand=brand, staff_id=guide.pk, at=at(DAY + timedelta(days=1), 12))["clocked_in"]


def test_other_brands_rows_do_not_count(brand, other_brand, other_store, guide, store, day_shift):
    schedule(brand, store, guide, DAY, day_shift)
    p = presence(brand=other_brand, staff_id=guide.pk, at=at(DAY, 11))
    assert not p["on_shift"]


def test_presence_is_cheap(brand, store, guide, day_shift):
    schedule(brand, store, guide, DAY, day_shift)
    punch(brand, store, guide, at(DAY, 10))
    with CaptureQueriesContext(connection) as ctx:
        presence(brand=brand, staff_id=guide.pk, at=at(DAY, 11))
    reads = [q for q in ctx.captured_queries if "FROM" in q["sql"].upper() and "set_config" not in q["sql"]]
    assert len(reads) <= 3
