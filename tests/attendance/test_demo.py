"""Demo attendance (seed_demo's activity seeder): a consent text, shifts, this week's schedules, a
PIN for the guides, punches and day records of the past days; no face data; idempotent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.utils import timezone

from attendance import demo
from attendance.models import ConsentText, DayRecord, FaceEncoding, Punch, Schedule, ShiftTemplate, StaffPin
from devices.demo import seed_devices
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory, StoreFactory

pytestmark = pytest.mark.django_db


def _counts(brand) -> dict:
    with brand_scope(brand):
        return {
            m.__name__: m.objects.for_brand(brand).count()
            for m in (ConsentText, ShiftTemplate, Schedule, Punch, DayRecord, StaffPin, FaceEncoding)
        }


def test_demo_attendance(brand, store, brand_admin, store_manager, guide):
    second = StoreFactory(brand=brand, code="SH002", name="徐家汇店")
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[second], name="李娜")
    seed_devices(brand, [store, second])
    demo.seed_attendance(brand)
    counts = _counts(brand)
    assert counts["ConsentText"] == 1 and counts["ShiftTemplate"] == 4 and counts["FaceEncoding"] == 0
    assert counts["Punch"] > 0 and counts["DayRecord"] > 0
    today = timezone.localdate()
    with brand_scope(brand):
        text = ConsentText.objects.for_brand(brand).get()
        assert brand.name in text.body and "撤回" in text.body
        # Everyone of a store is on a shift every day of the last week and the rest of this one.
        for person in (store_manager, guide, other):
            dates = set(Schedule.objects.for_brand(brand).filter(staff=person).values_list("date", flat=True))
            assert today - timedelta(days=7) in dates and today in dates
            assert today + timedelta(days=6 - today.weekday()) in dates
            assert not any(d.weekday() == 0 and d > today for d in dates)  # not into next week
        # The guides punch at the kiosk with PIN 1234 and their employee number.
        for person in (guide, other):
            pin = StaffPin.objects.for_brand(brand).get(staff=person)
            assert check_password(demo.DEMO_PIN, pin.pin_hash)
            assert Staff.objects.get(pk=person.pk).employee_no
        assert not StaffPin.objects.for_brand(brand).filter(staff=store_manager).exists()
        punches = Punch.objects.for_brand(brand).select_related("device")
        assert all(p.occurred_at < timezone.now() for p in punches)
        assert {p.device.kind for p in punches} == {"both"} and {p.source for p in punches} == {"kiosk_pin"}
        statuses = set(DayRecord.objects.for_brand(brand).values_list("status", flat=True))
    assert {"on_time", "late", "absent"} <= statuses
    assert statuses & {"missing", "left_early", "pending"}

    demo.seed_attendance(brand)  # again: left alone
    assert _counts(brand) == counts


def test_demo_attendance_is_one_of_seed_demos_seeders():
    assert "attendance.demo.seed_attendance" in settings.DEMO_SEEDERS["activity"]
