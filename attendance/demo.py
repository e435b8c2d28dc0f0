"""Demo attendance for `seed_demo`: the brand's face-data consent text, two shifts per store, the
schedules of the last seven days and of the rest of this week for every active person of a store,
a punch PIN (1234) for the guides, and the punches of the past days (at the store's kiosk; some late,
one left early, one missing the clock-out) with their day records. No face data: a person enrolls
their own face on the phone page (/m/attendance/) and punches at the web kiosk (/kiosk/).

Idempotent: a brand with a consent text is left alone. Runs in the brand's scope (not under the
seed's RLS bypass), through the services."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from attendance import records, services
from attendance.models import ConsentText, Punch, StaffPin
from devices.models import Device
from retail.events import Actor
from retail.models import Brand, Staff, StaffStore, Store
from retail.tenancy import brand_scope

DEMO_PIN = "1234"
CONSENT_TITLE = "员工人脸考勤授权同意书"
CONSENT_BODY = """为了防止代打卡，并让您在门店考勤机或手机上“刷脸”打卡，{brand}将处理您的人脸信息。

1. 处理什么：仅保存由您的照片计算出的 128 维人脸特征值（加密保存），不保存照片。
2. 用于什么：仅用于考勤打卡和员工通道门禁的身份核验，不用于其他目的。
3. 保存多久：您撤回同意或离职时立即删除；打卡记录按公司考勤制度保存。
4. 您的权利：您可以随时在手机“考勤”页面撤回同意；不同意也可以使用 PIN 码（手机需在门店范围内）
或工卡打卡，不影响您的工作和考勤。
5. 每次读取人脸数据都有审计记录。

勾选“同意”即表示您已阅读并单独同意上述人脸信息处理。"""
SHIFTS = [
    {"name": "早班", "start": "09:00", "end": "18:00", "late_grace_minutes": 5, "early_grace_minutes": 0},
    {"name": "晚班", "start": "13:00", "end": "22:00", "late_grace_minutes": 5, "early_grace_minutes": 0},
]
# Minutes after the shift's start and before its end of each past day's punches, in turn:
# (clock-in, clock-out or None for a forgotten clock-out).
PATTERN = [(-8, 5), (-3, -2), (12, 0), (-5, 40), (1, None), (-10, 3), (25, -1)]


def _employee_no(brand: Brand, staff: Staff) -> str:
    return f"{brand.slug[:2].upper()}{staff.pk:04d}"


def seed_attendance(brand: Brand) -> None:
    with brand_scope(brand):
        if ConsentText.objects.for_brand(brand).exists():
            return
        people = list(
            Staff.objects.for_brand(brand)
            .filter(status=Staff.Status.ACTIVE, kind=Staff.Kind.PERSON)
            .order_by("pk")
        )
        stores = list(Store.objects.for_brand(brand).order_by("code"))
        links = list(
            StaffStore.objects.for_brand(brand).filter(staff__in=people).order_by("store_id", "staff_id")
        )
        kiosks = {
            d.store_id: d
            for d in Device.objects.for_brand(brand)
            .filter(kind__in=[Device.Kind.CLOCK_IN, Device.Kind.BOTH], enabled=True)
            .order_by("-pk")
        }
    admin = next((s for s in people if s.role == Staff.Role.BRAND_ADMIN), None)
    if admin is None or not stores:
        return
    system = Actor.system()
    services.consent_text_publish(
        brand=brand,
        manager=admin,
        actor=system,
        title=CONSENT_TITLE,
        body=CONSENT_BODY.format(brand=brand.name),
    )
    shifts = {
        store.pk: [
            records.shift_create(brand=brand, manager=admin, actor=system, store=store, data=dict(s))
            for s in SHIFTS
        ]
        for store in stores
    }
    by_pk = {s.pk: s for s in people}
    store_by_pk = {s.pk: s for s in stores}
    guides = [s for s in people if s.role == Staff.Role.GUIDE]
    with brand_scope(brand):
        for guide in guides:
            if not guide.employee_no:
                guide.employee_no = _employee_no(brand, guide)
                Staff.objects.for_brand(brand).filter(pk=guide.pk).update(employee_no=guide.employee_no)
            StaffPin.objects.update_or_create(
                brand=brand, staff=guide, defaults={"pin_hash": make_password(DEMO_PIN), "failed_count": 0}
            )
    now = timezone.now()
    seen: set[int] = set()
    for n, link in enumerate(links):
        if link.staff_id in seen:  # a person in two stores works in the first one
            continue
        seen.add(link.staff_id)
        staff, store = by_pk[link.staff_id], store_by_pk[link.store_id]
        tz = records.store_tz(store)
        today = now.astimezone(tz).date()
        days = [today - timedelta(days=i) for i in range(7, 0, -1)]
        days += [today + timedelta(days=i) for i in range(0, 7 - today.weekday())]
        shift = shifts[store.pk][n % 2]
        records.schedule_set(
            brand=brand, manager=admin, actor=system, store=store, staff=staff, days=days, shift=shift
        )
        for k, day in enumerate(d for d in days if d < today):
            if (k + n) % 7 == 6:
                continue  # a day off the punches: absent
            came, left = PATTERN[(k + n) % len(PATTERN)]
            start = datetime.combine(day, shift.start, tzinfo=tz)
            end = datetime.combine(day, shift.end, tzinfo=tz)
            if shift.end <= shift.start:
                end += timedelta(days=1)
            punches = [start + timedelta(minutes=came)]
            if left is not None:
                punches.append(end + timedelta(minutes=left))
            for at in punches:
                kiosk = kiosks.get(store.pk)
                records.punch_record(
                    brand=brand,
                    staff=staff,
                    store=store,
                    occurred_at=at,
                    source=Punch.Source.KIOSK_PIN if kiosk else Punch.Source.PHONE_PIN,
                    device=kiosk,
                    reason="演示数据：PIN 打卡",
                )
