"""Attendance in the brand console in headless Chromium: a brand admin at 1280×800 goes through who is
in today, the month's day records (and corrects a late day with a reason), the week schedule (a cell,
then many at once), shifts, the access log, face data (deletes a person's with a reason), the consent
text (publishes a version), the policy and the calibration histogram; a store manager does the
daily part at phone size (390×844). Screenshots go to artifacts/screenshots/att-*-{desktop,phone}.png.

Hooks are data-testid attributes and form names, not wording: the Chinese comes separately."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.utils import timezone

from attendance import crypto, records, services
from attendance.models import AccessRecord, Correction, DayRecord, FaceEncoding, Schedule
from devices import services as device_services
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.factories import PASSWORD
from tests.helpers.browser import ENGLISH, login, no_horizontal_overflow, shot

pytestmark = pytest.mark.e2e
SH = ZoneInfo("Asia/Shanghai")
DESKTOP = {"width": 1280, "height": 800}


def check(page, name: str):
    assert no_horizontal_overflow(page), f"{name} overflows at {page.size_name}"
    # a phone context may widen its layout viewport to fit: measure against the size asked for
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"] + 1, name
    assert page.evaluate(
        "Array.from(document.styleSheets).some(s => (s.href || '').includes('attendance-dash.css'))"
    )
    words = page.evaluate(
        "(() => { const m = document.querySelector('main').cloneNode(true);"
        " m.querySelectorAll('pre, code, input, textarea, .mono').forEach(e => e.remove());"
        " return m.innerText; })()"
    )
    leaked = ENGLISH.findall(words)
    assert not leaked, f"English on {name}: {leaked}"
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", words), f"a code on {name}"
    page.evaluate("window.scrollTo(0, 0)")
    return shot(page, f"att-{name}")


def _encoding(brand, staff, vector):
    ciphertext, key_id = crypto.encrypt(np.asarray(vector, dtype=np.float64))
    FaceEncoding.objects.create(
        brand=brand, staff=staff, ciphertext=ciphertext, key_id=key_id, source="phone"
    )


def _world(demo) -> dict:
    """Store 1 with a morning shift, this week's schedule, yesterday's late day, someone in now, a
    door with granted and refused faces, enrolled faces and a consent text."""
    brand, admin = demo["brand"], demo["admin"]
    sh1 = demo["stores"][0]
    system = Actor.system()
    guide, manager = demo["guide"], demo["manager"]
    morning = records.shift_create(
        brand=brand,
        manager=admin,
        actor=system,
        store=sh1,
        data={"name": "早班", "start": "09:00", "end": "18:00", "late_grace_minutes": 5},
    )
    records.shift_create(
        brand=brand,
        manager=admin,
        actor=system,
        store=sh1,
        data={"name": "晚班", "start": "13:00", "end": "22:00"},
    )
    now = timezone.now()
    today = now.astimezone(SH).date()
    yesterday = today - timedelta(days=1)
    monday = today - timedelta(days=today.weekday())
    records.schedule_set(
        brand=brand,
        manager=admin,
        actor=system,
        store=sh1,
        staff=guide,
        days=[yesterday, *[monday + timedelta(days=i) for i in range(5)]],
        shift=morning,
    )

    def at(day, hh, mm=0):
        return datetime.combine(day, time(hh, mm), tzinfo=SH)

    for when in (at(yesterday, 9, 25), at(yesterday, 18, 2)):
        records.punch_record(brand=brand, staff=guide, store=sh1, occurred_at=when, source="kiosk_face")
    records.punch_record(
        brand=brand,
        staff=manager,
        store=sh1,
        occurred_at=now - timedelta(minutes=30),
        source="phone_pin",
        reason="人脸识别失败，戴口罩",
    )
    with brand_scope(brand):
        late = DayRecord.objects.for_brand(brand).get(staff=guide, date=yesterday)
    door, _code = device_services.device_create(
        brand=brand, manager=admin, actor=system, store=sh1, data={"name": "员工通道门禁", "kind": "door"}
    )
    text = services.consent_text_publish(
        brand=brand,
        manager=admin,
        actor=system,
        title="人脸信息处理单独同意书",
        body="我们只保存人脸特征值（128 维，加密），从不保存照片。\n离职或撤回同意时立即删除。",
    )
    services.consent_give(brand=brand, staff=guide, actor=system, text=text)
    rng = np.random.default_rng(7)
    base = rng.normal(0, 0.09, crypto.DIMENSIONS)
    with brand_scope(brand):
        for i, kind in enumerate(["granted", "unknown", "unknown", "outside_window"]):
            AccessRecord.objects.create(
                brand=brand,
                device=door,
                staff=guide if kind != "unknown" else None,
                result=kind,
                face_distance=[0.31, 0.66, 0.71, 0.29][i],
                occurred_at=now - timedelta(minutes=10 * (i + 1)),
            )
        _encoding(brand, guide, base)
        _encoding(brand, guide, base + rng.normal(0, 0.012, crypto.DIMENSIONS))
        for staff in (manager, demo["guide2"], demo["clerk"]):
            v = rng.normal(0, 0.09, crypto.DIMENSIONS)
            _encoding(brand, staff, v)
            _encoding(brand, staff, v + rng.normal(0, 0.015, crypto.DIMENSIONS))
    return {"late": late, "morning": morning, "monday": monday, "store": sh1}


def test_a_brand_admin_runs_attendance_at_desktop_size(browse, demo):
    brand, guide = demo["brand"], demo["guide"]
    w = _world(demo)
    page = browse.page("desktop")
    page.set_viewport_size(DESKTOP)
    login(page, "yy_admin", PASSWORD)
    page.get_by_test_id("nav-attendance").click()
    page.wait_for_url("**/dashboard/attendance/")
    # the first store by code is Beijing's: pick Shanghai's (the tabs keep it)
    page.select_option("#att-store", str(w["store"].pk))
    page.wait_for_url(f"**/dashboard/attendance/?store={w['store'].pk}")
    assert page.locator(f"[data-testid=inside-{demo['manager'].pk}]").count() == 1
    assert page.inner_text("[data-testid=count-refusals]").strip() == "3"
    check(page, "today")

    # the month's records; correct yesterday's late day
    page.get_by_test_id("tab-records").click()
    page.wait_for_url("**/dashboard/attendance/records/**")
    late = w["late"]
    if page.locator(f"tr[data-testid=day-{late.pk}]").count() == 0:  # yesterday was last month
        page.goto(f"/dashboard/attendance/records/?store={w['store'].pk}&month={late.date:%Y-%m}")
    row = page.locator(f"tr[data-testid=day-{late.pk}]")
    assert row.locator("[data-status=late]").count() == 1
    assert (
        page.locator("[data-testid=csv]")
        .get_attribute("href")
        .startswith("/dashboard/attendance/records.csv")
    )
    check(page, "records")
    page.get_by_test_id(f"correct-{late.pk}").click()
    page.wait_for_url(f"**/days/{late.pk}/correct/")
    assert page.input_value("input[name=first_in]") == "09:25"
    page.fill("input[name=first_in]", "09:00")
    page.fill("input[name=reason]", "考勤机排队，店长确认 9:00 到岗")
    check(page, "correct")
    page.get_by_test_id("save-correction").click()
    page.wait_for_url(f"**/people/{guide.pk}/**")
    assert page.locator(f"tr[data-testid=day-{late.pk}] [data-status=on_time]").count() == 1
    with brand_scope(brand):
        assert Correction.objects.for_brand(brand).filter(day_id=late.pk).count() == 1
    check(page, "person")

    # the week: a cell, then many at once
    page.goto(f"/dashboard/attendance/schedules/?store={w['store'].pk}")
    saturday = w["monday"] + timedelta(days=5)
    cell = f"c-{demo['manager'].pk}-{saturday.isoformat()}"
    page.select_option(f"[data-testid={cell}]", str(w["morning"].pk))
    check(page, "schedules")
    page.get_by_test_id("save-week").click()
    page.wait_for_load_state()
    assert page.input_value(f"[data-testid={cell}]") == str(w["morning"].pk)
    page.locator(f"[data-testid=bulk-form] input[name=staff][value='{demo['manager'].pk}']").check(force=True)
    for i in range(2):
        day = (w["monday"] + timedelta(days=i)).isoformat()
        page.locator(f"[data-testid=bulk-form] input[name=days][value='{day}']").check(force=True)
    page.select_option("[data-testid=bulk-form] select[name=shift]", str(w["morning"].pk))
    page.get_by_test_id("bulk-apply").click()
    page.wait_for_load_state()
    with brand_scope(brand):
        assert Schedule.objects.for_brand(brand).filter(staff=demo["manager"]).count() == 3

    # shifts: add one
    page.get_by_test_id("tab-shifts").click()
    page.wait_for_url("**/dashboard/attendance/shifts/**")
    form = page.get_by_test_id("new-shift-form")
    form.locator("input[name=name]").fill("中班")
    form.locator("input[name=start]").fill("11:00")
    form.locator("input[name=end]").fill("20:00")
    page.get_by_test_id("add-shift").click()
    page.wait_for_load_state()
    assert page.locator("li[data-testid^=shift-]").filter(has_text="中班").count() == 1
    check(page, "shifts")

    # the access log with refusals only
    page.get_by_test_id("tab-access").click()
    page.wait_for_url("**/dashboard/attendance/access/**")
    assert page.locator("tr[data-testid^=access-]").count() == 4
    page.select_option("[data-testid=result-filter]", "refused")
    page.wait_for_url("**result=refused**")
    assert page.locator("tr[data-testid^=access-]").count() == 3
    check(page, "access")

    # face data: delete the clerk's with a reason
    page.get_by_test_id("tab-faces").click()
    page.wait_for_url("**/dashboard/attendance/faces/")
    clerk = demo["clerk"]
    page.get_by_test_id(f"delete-face-{clerk.pk}").click()
    page.locator(f"[data-testid=delete-face-form-{clerk.pk}] input[name$=reason]").fill("员工本人要求删除")
    check(page, "faces")
    page.get_by_test_id(f"confirm-delete-{clerk.pk}").click()
    page.wait_for_load_state()
    assert page.locator(f"[data-testid=enc-{clerk.pk}]").count() == 0
    with brand_scope(brand):
        assert not FaceEncoding.objects.for_brand(brand).filter(staff=clerk).exists()

    # consent text: a second version
    page.get_by_test_id("tab-consent").click()
    page.wait_for_url("**/dashboard/attendance/consent/")
    page.fill("textarea[name=body]", "第二版：我们只保存人脸特征值，保留至离职或撤回同意。")
    page.get_by_test_id("publish").click()
    page.wait_for_load_state()
    assert "2" in page.inner_text("[data-testid=shown-version]")
    check(page, "consent")

    # policy: face on every phone punch
    page.get_by_test_id("tab-policy").click()
    page.wait_for_url("**/dashboard/attendance/policy/")
    page.check("input[name=phone_face][value=always]")
    page.get_by_test_id("save-policy").click()
    page.wait_for_load_state()
    assert services.policy_get(brand=brand).phone_face == "always"
    assert page.locator("[data-testid=policy-history] li").count() == 1
    check(page, "policy")

    # calibration with a previewed threshold
    page.get_by_test_id("tab-calibration").click()
    page.wait_for_url("**/dashboard/attendance/calibration/")
    assert page.inner_text("[data-testid=cal-encodings]").strip() == "6"
    assert page.locator("[data-testid=threshold-line]").count() == 1
    box = page.locator("[data-testid=calibration-chart] svg").bounding_box()
    assert box["width"] > 600 and box["height"] >= 200
    check(page, "calibration")
    page.fill("input[name=threshold]", "0.50")
    page.get_by_test_id("try").click()
    page.get_by_test_id("preview").wait_for()
    page.get_by_test_id("use-threshold").click()
    page.wait_for_url("**/policy/?threshold=0.50")
    assert page.input_value("input[name=match_threshold]") == "0.5"


def test_a_store_manager_at_phone_size(browse, demo):
    w = _world(demo)
    page = browse.page("phone")
    login(page, "yy_manager", PASSWORD)
    page.goto("/dashboard/attendance/")
    assert page.locator(f"[data-testid=inside-{demo['manager'].pk}]").count() == 1
    assert page.locator("[data-testid=tab-calibration]").count() == 0
    check(page, "today")
    page.goto(f"/dashboard/attendance/records/?month={w['late'].date:%Y-%m}")
    assert page.locator(f"tr[data-testid=day-{w['late'].pk}]").count() == 1
    check(page, "records")
    page.goto("/dashboard/attendance/schedules/")
    assert page.locator(f"tr[data-testid=week-{demo['guide'].pk}]").count() == 1
    check(page, "schedules")
    page.goto("/dashboard/attendance/shifts/")
    check(page, "shifts")
    page.goto("/dashboard/attendance/access/")
    check(page, "access")
    page.goto("/dashboard/attendance/faces/")
    # only the people of their store
    assert page.locator(f"tr[data-testid=face-{demo['guide2'].pk}]").count() == 0
    check(page, "faces")
    page.goto("/dashboard/attendance/policy/")
    assert page.locator("[data-testid=policy-read-only]").count() == 1
    check(page, "policy")
    page.goto(f"/dashboard/attendance/days/{w['late'].pk}/correct/")
    check(page, "correct")
    assert page.goto("/dashboard/attendance/calibration/").status == 403
