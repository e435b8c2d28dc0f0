"""The attendance pages of the brand console (/dashboard/attendance/): who is in today, day records
with CSV, a person's month and corrections, shifts, week schedules, the access log, face data with
deletion, the consent text, the policy and the calibration.

Brand admins see every store, store managers their own stores (another store's or another brand's
id: 404), guides get 403. The policy, consent text and calibration are the admin's. Assertions read
data-testid hooks, statuses and rows, not wording."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from attendance import calibration, crypto, gallery, records, services
from attendance.models import (
    AccessRecord,
    AttendancePolicy,
    ConsentText,
    Correction,
    DayRecord,
    FaceEncoding,
    Schedule,
    ShiftTemplate,
)
from retail.events import Actor
from retail.models import AuditLog, Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory, StoreFactory
from tests.helpers.auth import login_as
from tests.helpers.devices import make_device
from tests.helpers.pages import count, key, text

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
TODAY = reverse("dash-attendance")
RECORDS = reverse("dash-att-records")
CSV = reverse("dash-att-records-csv")
SHIFTS = reverse("dash-att-shifts")
SCHEDULES = reverse("dash-att-schedules")
ACCESS = reverse("dash-att-access")
FACES = reverse("dash-att-faces")
CONSENT = reverse("dash-att-consent")
POLICY = reverse("dash-att-policy")
CALIBRATION = reverse("dash-att-calibration")


@pytest.fixture(autouse=True)
def _fresh_gallery():
    gallery.forget()
    yield
    gallery.forget()


def audits(brand, action: str) -> list[AuditLog]:
    with brand_scope(brand):
        return list(AuditLog.objects.for_brand(brand).filter(action=action))


@pytest.fixture
def second_store(brand):
    return StoreFactory(brand=brand, code="SH002", name="徐家汇店")


@pytest.fixture
def shift(brand, store, brand_admin):
    return records.shift_create(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        store=store,
        data={"name": "早班", "start": "09:00", "end": "18:00", "late_grace_minutes": 5},
    )


@pytest.fixture
def far_shift(brand, second_store, brand_admin):
    return records.shift_create(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        store=second_store,
        data={"name": "晚班", "start": "13:00", "end": "22:00"},
    )


@pytest.fixture
def other_shift(other_brand, other_store, other_admin):
    return records.shift_create(
        brand=other_brand,
        manager=other_admin,
        actor=Actor.system(),
        store=other_store,
        data={"name": "早班", "start": "09:00", "end": "18:00"},
    )


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=SH)


def past_day() -> date:
    """A finished day of this month (or the last day of last month on the 1st)."""
    today = timezone.now().astimezone(SH).date()
    return today - timedelta(days=1)


@pytest.fixture
def late_day(brand, store, brand_admin, guide, shift) -> DayRecord:
    """The guide scheduled yesterday, in 20 minutes late, out on time: a finished, late day."""
    day = past_day()
    records.schedule_set(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        store=store,
        staff=guide,
        days=[day],
        shift=shift,
    )
    for hh, mm in ((9, 20), (18, 5)):
        records.punch_record(
            brand=brand, staff=guide, store=store, occurred_at=local(day, hh, mm), source="kiosk_pin"
        )
    with brand_scope(brand):
        rec = DayRecord.objects.for_brand(brand).get(staff=guide, date=day)
    assert rec.status == DayRecord.Status.LATE
    return rec


@pytest.fixture
def other_day(other_brand, other_store, other_admin, other_shift) -> DayRecord:
    b_guide = StaffFactory(brand=other_brand, stores=[other_store], name="外人")
    day = past_day()
    records.schedule_set(
        brand=other_brand,
        manager=other_admin,
        actor=Actor.system(),
        store=other_store,
        staff=b_guide,
        days=[day],
        shift=other_shift,
    )
    with brand_scope(other_brand):
        return DayRecord.objects.for_brand(other_brand).select_related("staff").get(staff=b_guide, date=day)


def enc(seed: int, base: np.ndarray | None = None, noise: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = base.copy() if base is not None else rng.normal(0, 0.09, crypto.DIMENSIONS)
    if noise:
        v = v + rng.normal(0, noise, crypto.DIMENSIONS)
    return v


def put_encoding(brand, staff, vector) -> FaceEncoding:
    ciphertext, key_id = crypto.encrypt(np.asarray(vector, dtype=np.float64))
    with brand_scope(brand):
        return FaceEncoding.objects.create(
            brand=brand, staff=staff, ciphertext=ciphertext, key_id=key_id, source="phone"
        )


# --- who may see what -----------------------------------------------------------------------------


def _pages(day: DayRecord, staff: Staff) -> list[str]:
    return [
        TODAY,
        RECORDS,
        reverse("dash-att-person", args=[staff.pk]),
        reverse("dash-att-correct", args=[day.pk]),
        SHIFTS,
        SCHEDULES,
        ACCESS,
        FACES,
        CONSENT,
        POLICY,
    ]


@pytest.mark.parametrize("who", ["brand_admin", "store_manager"])
def test_every_page_opens_for_admins_and_store_managers(client, request, who, late_day, guide):
    login_as(client, request.getfixturevalue(who))
    for page in _pages(late_day, guide):
        response = client.get(page)
        assert response.status_code == 200, page
        assert b"attendance-dash.css" in response.content, page
        assert b'data-testid="nav-attendance"' in response.content, page
        assert b'data-testid="att-tabs"' in response.content, page
    calib = client.get(CALIBRATION)
    assert calib.status_code == (200 if who == "brand_admin" else 403)
    home = text(client.get(TODAY))
    assert ('data-testid="tab-calibration"' in home) is (who == "brand_admin")


def test_guides_are_refused_everywhere_and_see_no_menu_entry(client, guide, late_day):
    login_as(client, guide)
    for page in [*_pages(late_day, guide), CALIBRATION, CSV]:
        assert client.get(page).status_code == 403, page
    posts = [
        POLICY,
        CONSENT,
        SHIFTS,
        SCHEDULES,
        reverse("dash-att-correct", args=[late_day.pk]),
        reverse("dash-att-face-delete", args=[guide.pk]),
    ]
    for page in posts:
        assert client.post(page, {"reason": "x", "key": key()}).status_code == 403, page
    assert b"nav-attendance" not in client.get(reverse("home")).content


def test_another_brands_ids_answer_404(client, brand_admin, other_day, other_shift, other_store):
    login_as(client, brand_admin)
    b_staff = other_day.staff
    for page in (
        reverse("dash-att-person", args=[b_staff.pk]),
        reverse("dash-att-correct", args=[other_day.pk]),
        f"{TODAY}?store={other_store.pk}",
        f"{RECORDS}?store={other_store.pk}",
        f"{CSV}?store={other_store.pk}",
        f"{SHIFTS}?store={other_store.pk}",
        f"{SCHEDULES}?store={other_store.pk}",
        f"{ACCESS}?store={other_store.pk}",
    ):
        assert client.get(page).status_code == 404, page
    before = other_day.status
    r = client.post(
        reverse("dash-att-correct", args=[other_day.pk]), {"key": key(), "status": "on_time", "reason": "x"}
    )
    assert r.status_code == 404
    r = client.post(reverse("dash-att-shift", args=[other_shift.pk]), {f"s{other_shift.pk}-name": "改"})
    assert r.status_code == 404
    r = client.post(
        reverse("dash-att-face-delete", args=[b_staff.pk]),
        {f"f{b_staff.pk}-key": key(), f"f{b_staff.pk}-reason": "x"},
    )
    assert r.status_code == 404
    r = client.post(
        SHIFTS,
        {
            "store": other_store.pk,
            "key": key(),
            "name": "X",
            "start": "08:00",
            "end": "12:00",
            "late_grace_minutes": 0,
            "early_grace_minutes": 0,
        },
    )
    assert r.status_code == 404
    with brand_scope(other_day.brand):
        assert DayRecord.objects.for_brand(other_day.brand).get(pk=other_day.pk).status == before
        assert ShiftTemplate.objects.for_brand(other_day.brand).get(pk=other_shift.pk).name == "早班"
        assert ShiftTemplate.objects.for_brand(other_day.brand).count() == 1


def test_a_store_manager_sees_only_their_stores(
    client, brand, brand_admin, store_manager, second_store, far_shift, late_day
):
    far_guide = StaffFactory(brand=brand, stores=[second_store], name="远方")
    day = past_day()
    records.schedule_set(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        store=second_store,
        staff=far_guide,
        days=[day],
        shift=far_shift,
    )
    with brand_scope(brand):
        far_day = DayRecord.objects.for_brand(brand).get(staff=far_guide, date=day)
    login_as(client, store_manager)
    for page in (
        f"{RECORDS}?store={second_store.pk}",
        f"{SCHEDULES}?store={second_store.pk}",
        reverse("dash-att-person", args=[far_guide.pk]),
        reverse("dash-att-correct", args=[far_day.pk]),
    ):
        assert client.get(page).status_code == 404, page
    assert client.post(reverse("dash-att-shift", args=[far_shift.pk]), {}).status_code == 404
    faces_page = text(client.get(FACES))
    assert f'data-testid="face-{far_guide.pk}"' not in faces_page
    assert f'data-testid="face-{late_day.staff_id}"' in faces_page
    # the admin sees both
    login_as(client, brand_admin)
    assert client.get(f"{RECORDS}?store={second_store.pk}").status_code == 200
    assert client.get(reverse("dash-att-correct", args=[far_day.pk])).status_code == 200


# --- policy ---------------------------------------------------------------------------------------


def test_the_admin_changes_the_policy_and_it_is_audited(client, brand, brand_admin):
    login_as(client, brand_admin)
    page = text(client.get(POLICY))
    assert 'data-testid="policy-form"' in page
    r = client.post(
        POLICY,
        {"match_threshold": "0.42", "match_margin": "0.08", "phone_face": "always", "retention_days": "365"},
    )
    assert r.status_code == 302
    policy = services.policy_get(brand=brand)
    assert (policy.match_threshold, policy.match_margin, policy.phone_face, policy.retention_days) == (
        0.42,
        0.08,
        "always",
        365,
    )
    (entry,) = audits(brand, "attendance.policy")
    assert entry.data["changes"]["phone_face"] == ["risk", "always"]
    assert 'data-testid="policy-history"' in text(client.get(POLICY))


@pytest.mark.parametrize(
    "bad",
    [
        {"match_threshold": "0.9"},
        {"match_threshold": "abc"},
        {"match_margin": "-1"},
        {"phone_face": "off"},
        {"retention_days": "5"},
        {"retention_days": ""},
    ],
)
def test_bad_policy_input_is_refused_and_nothing_changes(client, brand, brand_admin, bad):
    login_as(client, brand_admin)
    data = {
        "match_threshold": "0.45",
        "match_margin": "0.06",
        "phone_face": "never",
        "retention_days": "400",
        **bad,
    }
    assert client.post(POLICY, data).status_code == 400
    policy = services.policy_get(brand=brand)
    assert policy.phone_face == "risk" and policy.match_threshold == 0.45
    assert not audits(brand, "attendance.policy")


def test_store_managers_read_the_policy_but_cannot_change_it(client, brand, store_manager):
    login_as(client, store_manager)
    page = text(client.get(POLICY))
    assert 'data-testid="policy-read-only"' in page and 'data-testid="policy-form"' not in page
    r = client.post(
        POLICY,
        {"match_threshold": "0.5", "match_margin": "0.06", "phone_face": "never", "retention_days": "400"},
    )
    assert r.status_code == 403
    assert services.policy_get(brand=brand).phone_face == "risk"


# --- consent text ---------------------------------------------------------------------------------


def test_the_admin_publishes_versions_of_the_consent_text(client, brand, brand_admin, guide):
    login_as(client, brand_admin)
    assert 'data-testid="no-consent-text"' in text(client.get(CONSENT))
    k = key()
    body = {"key": k, "title": "人脸信息处理同意书", "body": "我们只保存人脸特征值。"}
    assert client.post(CONSENT, body).status_code == 302
    assert client.post(CONSENT, body).status_code == 302  # the same form twice: one version
    assert count(brand, ConsentText) == 1
    with brand_scope(brand):
        first = ConsentText.objects.for_brand(brand).get()
    services.consent_give(brand=brand, staff=guide, actor=Actor.system(), text=first)
    r = client.post(
        CONSENT, {"key": key(), "title": "人脸信息处理同意书", "body": "第二版：保存期限为离职即删。"}
    )
    assert r.status_code == 302
    with brand_scope(brand):
        assert list(ConsentText.objects.for_brand(brand).values_list("version", flat=True)) == [2, 1]
    page = text(client.get(CONSENT))
    assert "第二版" in page and 'data-testid="version-1"' in page
    old = text(client.get(f"{CONSENT}?version=1"))
    assert "我们只保存人脸特征值" in old
    assert client.get(f"{CONSENT}?version=9").status_code == 404
    assert len(audits(brand, "face.consent_text")) == 2
    # the guide agreed to version 1: shown as asked again
    assert "face-" in text(client.get(FACES))


@pytest.mark.parametrize("bad", [{"title": ""}, {"body": "  "}, {"key": "not-a-key"}, {"title": "x" * 101}])
def test_a_bad_consent_text_is_refused(client, brand, brand_admin, bad):
    login_as(client, brand_admin)
    data = {"key": key(), "title": "同意书", "body": "正文", **bad}
    assert client.post(CONSENT, data).status_code == 400
    assert count(brand, ConsentText) == 0


def test_store_managers_read_the_consent_text_but_cannot_publish(client, brand, brand_admin, store_manager):
    services.consent_text_publish(
        brand=brand, manager=brand_admin, actor=Actor.system(), title="同意书", body="正文一"
    )
    login_as(client, store_manager)
    page = text(client.get(CONSENT))
    assert "正文一" in page and 'data-testid="read-only"' in page
    assert client.post(CONSENT, {"key": key(), "title": "改", "body": "改"}).status_code == 403
    assert count(brand, ConsentText) == 1


# --- face data ------------------------------------------------------------------------------------


def test_deleting_a_persons_face_data_needs_a_reason_and_is_audited(client, brand, brand_admin, guide):
    put_encoding(brand, guide, enc(1))
    put_encoding(brand, guide, enc(1, noise=0.01))
    login_as(client, brand_admin)
    page = text(client.get(FACES))
    assert f'data-testid="enc-{guide.pk}"' in page
    url = reverse("dash-att-face-delete", args=[guide.pk])
    # no reason: nothing deleted
    r = client.post(url, {f"f{guide.pk}-key": key(), f"f{guide.pk}-reason": ""})
    assert r.status_code == 302 and count(brand, FaceEncoding, staff=guide) == 2
    r = client.post(url, {f"f{guide.pk}-key": key(), f"f{guide.pk}-reason": "员工本人要求删除"})
    assert r.status_code == 302 and count(brand, FaceEncoding, staff=guide) == 0
    (entry,) = audits(brand, "face.deleted")
    assert entry.data == {"reason": "员工本人要求删除", "count": 2}
    assert f'data-testid="enc-{guide.pk}"' not in text(client.get(FACES))


def test_a_store_manager_deletes_face_data_of_their_stores_only(
    client, brand, store_manager, guide, second_store
):
    far = StaffFactory(brand=brand, stores=[second_store], name="远方")
    put_encoding(brand, far, enc(2))
    put_encoding(brand, guide, enc(3))
    login_as(client, store_manager)
    r = client.post(
        reverse("dash-att-face-delete", args=[far.pk]), {f"f{far.pk}-key": key(), f"f{far.pk}-reason": "x"}
    )
    assert r.status_code == 404 and count(brand, FaceEncoding, staff=far) == 1
    r = client.post(
        reverse("dash-att-face-delete", args=[guide.pk]),
        {f"f{guide.pk}-key": key(), f"f{guide.pk}-reason": "离职前清理"},
    )
    assert r.status_code == 302 and count(brand, FaceEncoding, staff=guide) == 0


# --- calibration ----------------------------------------------------------------------------------


def test_compute_counts_pairs_the_threshold_would_confuse():
    a = enc(10)
    b = enc(11)
    matrix = np.array([a, a + 0.01, b, b + 0.02, a + 0.015])
    owners = np.array([1, 1, 2, 2, 3])  # person 3 looks like person 1
    dist = calibration.compute(matrix, owners)
    assert dist.encodings == 5 and dist.people == 3
    assert dist.same_pairs == 2 and dist.different_pairs == 8
    assert int(dist.same.sum()) == 2 and int(dist.different.sum()) == 8
    assert dist.confused(0.45) == {"missed": 0, "mixed": 2}  # 3 with both of 1's faces
    assert dist.closest[0][1:] == (1, 3)
    assert dist.confused(0.0)["missed"] == 2
    sampled = calibration.compute(matrix, owners, max_sampled=3)
    assert sampled.sampled and sampled.same_pairs == 2 and sampled.different_pairs <= 3


def test_the_calibration_page_shows_the_brands_distribution_and_is_audited(
    client, brand, brand_admin, store, guide
):
    twin = StaffFactory(brand=brand, stores=[store], name="双胞胎")
    other = StaffFactory(brand=brand, stores=[store], name="路人")
    base = enc(20)
    put_encoding(brand, guide, base)
    put_encoding(brand, guide, base + 0.005)
    put_encoding(brand, twin, base + 0.01)
    put_encoding(brand, other, enc(21))
    login_as(client, brand_admin)
    page = text(client.get(CALIBRATION))
    assert 'data-testid="cal-encodings">4<' in page
    assert 'data-testid="cal-mixed">2<' in page and 'data-testid="cal-missed">0<' in page
    assert "双胞胎" in page and 'data-testid="threshold-line"' in page
    (entry,) = audits(brand, "face.read")
    assert entry.data == {"purpose": "calibration", "encodings": 4}
    preview = text(client.get(f"{CALIBRATION}?threshold=0.30"))
    assert 'data-testid="preview"' in preview and 'data-testid="use-threshold"' in preview
    assert len(audits(brand, "face.read")) == 2
    for bad in ("abc", "0.9", "-1", "nan"):
        assert client.get(f"{CALIBRATION}?threshold={bad}").status_code == 400, bad
    assert services.policy_get(brand=brand).match_threshold == 0.45  # a preview saves nothing


def test_the_calibration_page_of_a_brand_without_faces(client, brand_admin):
    login_as(client, brand_admin)
    assert 'data-testid="cal-empty"' in text(client.get(CALIBRATION))


# --- shifts ---------------------------------------------------------------------------------------


def _shift_form(**over):
    return {
        "key": key(),
        "name": "午班",
        "start": "12:00",
        "end": "21:00",
        "late_grace_minutes": "10",
        "early_grace_minutes": "0",
        "active": "on",
        **over,
    }


def test_a_manager_adds_and_edits_a_shift(client, brand, store, store_manager):
    login_as(client, store_manager)
    form = _shift_form(store=store.pk)
    assert client.post(SHIFTS, form).status_code == 302
    assert client.post(SHIFTS, form).status_code == 302  # sent twice: one shift
    with brand_scope(brand):
        shift = ShiftTemplate.objects.for_brand(brand).get()
    assert (shift.name, shift.start, shift.late_grace_minutes) == ("午班", time(12), 10)
    assert f'data-testid="shift-{shift.pk}"' in text(client.get(f"{SHIFTS}?store={store.pk}"))
    p = f"s{shift.pk}-"
    r = client.post(
        reverse("dash-att-shift", args=[shift.pk]),
        {
            p + "name": "午班",
            p + "start": "22:00",
            p + "end": "06:00",
            p + "late_grace_minutes": "5",
            p + "early_grace_minutes": "5",
        },
    )
    assert r.status_code == 302
    with brand_scope(brand):
        shift.refresh_from_db()
    assert (shift.start, shift.end, shift.active) == (time(22), time(6), False)
    assert len(audits(brand, "attendance.shift")) == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"start": "12:00", "end": "12:00"},
        {"start": "25:00"},
        {"name": ""},
        {"late_grace_minutes": "500"},
        {"late_grace_minutes": "x"},
        {"key": ""},
    ],
)
def test_a_bad_shift_is_refused(client, brand, store, store_manager, bad):
    login_as(client, store_manager)
    assert client.post(SHIFTS, _shift_form(store=store.pk, **bad)).status_code == 400
    assert count(brand, ShiftTemplate) == 0


def test_a_duplicate_shift_name_is_refused(client, brand, store, store_manager, shift):
    login_as(client, store_manager)
    assert client.post(SHIFTS, _shift_form(store=store.pk, name="早班")).status_code == 400
    assert count(brand, ShiftTemplate) == 1


# --- schedules ------------------------------------------------------------------------------------


def _monday() -> date:
    d = timezone.now().astimezone(SH).date() + timedelta(days=14)
    return d - timedelta(days=d.weekday())


def test_the_week_grid_shows_no_attendance_for_days_to_come(client, brand, store, brand_admin, guide, shift):
    next_monday = _monday() + timedelta(days=7)
    records.schedule_set(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        store=store,
        staff=guide,
        days=[next_monday],
        shift=shift,
    )
    with brand_scope(brand):
        assert DayRecord.objects.for_brand(brand).filter(staff=guide, date=next_monday).exists()
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    login_as(client, brand_admin)
    page = text(client.get(f"{SCHEDULES}?store={store.pk}&week={next_monday.isoformat()}"))
    assert f'data-testid="c-{guide.pk}-{next_monday.isoformat()}"' in page
    assert "进行中" not in page and "att-dot" not in page


def test_the_week_grid_sets_and_clears_schedules(client, brand, store, store_manager, guide, shift):
    monday = _monday()
    login_as(client, store_manager)
    page = text(client.get(f"{SCHEDULES}?store={store.pk}&week={monday.isoformat()}"))
    cell = f"c-{guide.pk}-{monday.isoformat()}"
    assert f'data-testid="{cell}"' in page
    tuesday = monday + timedelta(days=1)
    data = {
        "store": store.pk,
        "week": monday.isoformat(),
        cell: str(shift.pk),
        f"c-{guide.pk}-{tuesday.isoformat()}": str(shift.pk),
    }
    assert client.post(SCHEDULES, data).status_code == 302
    with brand_scope(brand):
        assert sorted(
            Schedule.objects.for_brand(brand).filter(staff=guide).values_list("date", flat=True)
        ) == [monday, tuesday]
    # clearing one day, leaving the other untouched
    assert (
        client.post(SCHEDULES, {"store": store.pk, "week": monday.isoformat(), cell: ""}).status_code == 302
    )
    with brand_scope(brand):
        assert list(Schedule.objects.for_brand(brand).filter(staff=guide).values_list("date", flat=True)) == [
            tuesday
        ]
    assert audits(brand, "attendance.schedule") and audits(brand, "attendance.schedule_cleared")


def test_bulk_setting_a_shift_for_ticked_people_and_days(client, brand, store, store_manager, guide, shift):
    other = StaffFactory(brand=brand, stores=[store], name="李雷")
    monday = _monday()
    days = [monday + timedelta(days=i) for i in range(5)]
    login_as(client, store_manager)
    data = {
        "action": "bulk",
        "store": store.pk,
        "week": monday.isoformat(),
        "staff": [guide.pk, other.pk],
        "days": [d.isoformat() for d in days],
        "shift": str(shift.pk),
    }
    assert client.post(SCHEDULES, data).status_code == 302
    assert count(brand, Schedule) == 10
    data["shift"] = ""
    data["staff"] = [other.pk]
    assert client.post(SCHEDULES, data).status_code == 302
    assert count(brand, Schedule) == 5


@pytest.mark.parametrize(
    "which", ["other_brand_shift", "far_shift", "garbage", "bulk_bad_day", "bulk_no_people"]
)
def test_bad_schedule_input_is_refused_and_nothing_changes(
    client, request, brand, store, store_manager, guide, shift, which
):
    monday = _monday()
    cell = f"c-{guide.pk}-{monday.isoformat()}"
    data = {"store": store.pk, "week": monday.isoformat()}
    if which == "other_brand_shift":
        data[cell] = str(request.getfixturevalue("other_shift").pk)
    elif which == "far_shift":
        data[cell] = str(request.getfixturevalue("far_shift").pk)
    elif which == "garbage":
        data[cell] = "1; drop"
    elif which == "bulk_bad_day":
        data.update(action="bulk", staff=[guide.pk], days=["2001-01-01"], shift=str(shift.pk))
    else:
        data.update(action="bulk", days=[monday.isoformat()], shift=str(shift.pk))
    login_as(client, store_manager)
    assert client.post(SCHEDULES, data).status_code == 400
    assert count(brand, Schedule) == 0


def test_a_bad_week_is_a_400(client, store_manager, store):
    login_as(client, store_manager)
    assert client.get(f"{SCHEDULES}?store={store.pk}&week=someday").status_code == 400
    assert client.get(f"{SCHEDULES}?store=abc").status_code == 404


# --- day records, CSV, a person's month, corrections ----------------------------------------------


def test_the_store_month_shows_days_summary_and_csv(client, store, store_manager, guide, late_day):
    login_as(client, store_manager)
    month = late_day.date.strftime("%Y-%m")
    page = text(client.get(f"{RECORDS}?store={store.pk}&month={month}"))
    assert f'data-testid="day-{late_day.pk}"' in page and f'data-testid="summary-{guide.pk}"' in page
    assert 'data-status="late"' in page
    filtered = text(client.get(f"{RECORDS}?store={store.pk}&month={month}&status=absent"))
    assert f'data-testid="day-{late_day.pk}"' not in filtered
    found = text(client.get(f"{RECORDS}?store={store.pk}&month={month}&q=王"))
    assert f'data-testid="day-{late_day.pk}"' in found
    r = client.get(f"{CSV}?store={store.pk}&month={month}")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    body = r.content.decode("utf-8-sig").splitlines()
    assert len(body) == 2 and guide.name in body[1]
    for bad in ("2026-13", "x", "1999-01"):
        assert client.get(f"{RECORDS}?store={store.pk}&month={bad}").status_code in (400, 404), bad
        assert client.get(f"{CSV}?store={store.pk}&month={bad}").status_code in (400, 404), bad


def test_a_persons_month_lists_days_and_punches(client, store_manager, guide, late_day):
    login_as(client, store_manager)
    page = text(client.get(reverse("dash-att-person", args=[guide.pk]) + f"?month={late_day.date:%Y-%m}"))
    assert f'data-testid="day-{late_day.pk}"' in page
    assert page.count('data-testid="punch-') == 2


def test_a_phone_punchs_risks_read_in_words(client, brand, store, store_manager, guide, late_day):
    records.punch_record(
        brand=brand,
        staff=guide,
        store=store,
        occurred_at=local(late_day.date, 23, 30),
        source="phone_pin",
        risk=["new_device", "outside_geofence", "odd_hour"],
        reason="手机没电",
    )
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    login_as(client, store_manager)
    page = text(client.get(reverse("dash-att-person", args=[guide.pk]) + f"?month={late_day.date:%Y-%m}"))
    assert "新手机、不在门店范围内、非常规时段" in page
    assert "new_device" not in page and "odd_hour" not in page


def test_a_correction_with_a_reason_changes_the_day_and_is_kept(client, brand, store_manager, late_day):
    login_as(client, store_manager)
    url = reverse("dash-att-correct", args=[late_day.pk])
    page = text(client.get(url))
    assert 'value="09:20"' in page
    k = key()
    data = {"key": k, "first_in": "09:00", "last_out": "18:05", "reason": "打卡机故障，店长确认 9:00 到岗"}
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302  # sent twice: one correction
    with brand_scope(brand):
        day = DayRecord.objects.for_brand(brand).get(pk=late_day.pk)
        assert Correction.objects.for_brand(brand).filter(day=day).count() == 1
    assert day.corrected and day.status == DayRecord.Status.ON_TIME and day.late_minutes == 0
    assert day.first_in == local(day.date, 9)
    (entry,) = audits(brand, "attendance.correction")
    assert entry.data["reason"].startswith("打卡机故障")
    assert 'data-testid="corrections"' in text(client.get(url))


@pytest.mark.parametrize(
    "bad",
    [
        {"reason": ""},
        {"reason": "x" * 201},
        {"first_in": "9 点"},
        {"status": "great"},
        {"first_in": "", "last_out": "", "status": ""},
        {"first_in": "19:00", "last_out": "08:00"},  # out before in
        {"key": "nope"},
    ],
)
def test_a_bad_correction_is_refused_and_nothing_changes(client, brand, store_manager, late_day, bad):
    login_as(client, store_manager)
    data = {"key": key(), "first_in": "09:00", "reason": "原因", **bad}
    assert client.post(reverse("dash-att-correct", args=[late_day.pk]), data).status_code == 400
    with brand_scope(brand):
        day = DayRecord.objects.for_brand(brand).get(pk=late_day.pk)
    assert not day.corrected and day.status == DayRecord.Status.LATE
    assert count(brand, Correction) == 0


# --- today and the access log ---------------------------------------------------------------------


def test_today_shows_who_is_in(client, brand, store, brand_admin, store_manager, guide, shift):
    now = timezone.now()
    records.punch_record(
        brand=brand, staff=guide, store=store, occurred_at=now - timedelta(minutes=5), source="kiosk_pin"
    )
    login_as(client, store_manager)
    page = text(client.get(TODAY))
    assert f'data-testid="inside-{guide.pk}"' in page
    assert 'data-testid="count-inside">1<' in page


def test_the_access_log_lists_faces_and_filters_refusals(
    client, brand, store, brand_admin, store_manager, guide, second_store
):
    door, _secret = make_device(brand, brand_admin, store, name="员工通道", kind="door")
    far, _secret = make_device(brand, brand_admin, second_store, name="远方门禁", kind="door")
    with brand_scope(brand):
        ok = AccessRecord.objects.create(
            brand=brand, device=door, staff=guide, result="granted", face_distance=0.31
        )
        no = AccessRecord.objects.create(brand=brand, device=door, result="unknown", face_distance=0.72)
        away = AccessRecord.objects.create(brand=brand, device=far, result="unknown")
    login_as(client, store_manager)
    page = text(client.get(ACCESS))
    assert f'data-testid="access-{ok.pk}"' in page and f'data-testid="access-{no.pk}"' in page
    assert f'data-testid="access-{away.pk}"' not in page
    refused = text(client.get(f"{ACCESS}?store={store.pk}&result=refused"))
    assert f'data-testid="access-{ok.pk}"' not in refused and f'data-testid="access-{no.pk}"' in refused
    assert client.get(f"{ACCESS}?store={second_store.pk}").status_code == 404
    assert 'data-testid="count-refusals">1<' in text(client.get(TODAY))


def test_no_store_yet(client, brand):
    admin = StaffFactory(brand=brand, role=Staff.Role.BRAND_ADMIN, name="新管理员")
    login_as(client, admin)
    for page in (TODAY, RECORDS, SHIFTS, SCHEDULES, ACCESS):
        r = client.get(page)
        assert r.status_code == 200 and b'data-testid="no-store"' in r.content, page


def test_policy_row_is_created_with_defaults_on_first_view(client, brand, store_manager):
    login_as(client, store_manager)
    client.get(POLICY)
    with brand_scope(brand):
        assert AttendancePolicy.objects.for_brand(brand).get().match_threshold == 0.45


# --- query counts ---------------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_busy_pages_read_in_a_constant_number_of_queries(client, brand, store, brand_admin, shift):
    """Day records, the week grid, face data and the access log do not read once per row."""
    day = past_day()
    monday = day - timedelta(days=day.weekday())
    door, _secret = make_device(brand, brand_admin, store, name="员工通道", kind="door")
    login_as(client, brand_admin)
    pages = [
        f"{RECORDS}?store={store.pk}&month={day:%Y-%m}",
        f"{SCHEDULES}?store={store.pk}&week={monday.isoformat()}",
        FACES,
        f"{ACCESS}?store={store.pk}",
        f"{TODAY}?store={store.pk}",
    ]

    def add_people(n: int) -> None:
        for i in range(n):
            person = StaffFactory(brand=brand, stores=[store], name=f"员工{i}")
            records.schedule_set(
                brand=brand,
                manager=brand_admin,
                actor=Actor.system(),
                store=store,
                staff=person,
                days=[day],
                shift=shift,
            )
            records.punch_record(
                brand=brand, staff=person, store=store, occurred_at=local(day, 9, 1), source="kiosk_face"
            )
            put_encoding(brand, person, enc(100 + i))
            with brand_scope(brand):
                AccessRecord.objects.create(brand=brand, device=door, staff=person, result="punched")

    add_people(1)
    few = [_queries(client, p) for p in pages]
    add_people(4)
    many = [_queries(client, p) for p in pages]
    assert many == few, list(zip(pages, few, many, strict=True))


def test_a_day_at_another_store_is_left_alone(
    client, brand, store, second_store, brand_admin, store_manager, shift, far_shift
):
    both = StaffFactory(brand=brand, stores=[store, second_store], name="两店通")
    monday = _monday()
    tuesday = monday + timedelta(days=1)
    records.schedule_set(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        store=second_store,
        staff=both,
        days=[monday],
        shift=far_shift,
    )
    login_as(client, store_manager)
    page = text(client.get(f"{SCHEDULES}?store={store.pk}&week={monday.isoformat()}"))
    assert f'data-testid="c-{both.pk}-{monday.isoformat()}"' not in page  # shown, not editable here
    data = {
        "action": "bulk",
        "store": store.pk,
        "week": monday.isoformat(),
        "staff": [both.pk],
        "days": [monday.isoformat(), tuesday.isoformat()],
        "shift": str(shift.pk),
    }
    assert client.post(SCHEDULES, data).status_code == 302
    grid = {f"c-{both.pk}-{monday.isoformat()}": str(shift.pk)}
    assert client.post(SCHEDULES, {"store": store.pk, "week": monday.isoformat(), **grid}).status_code == 302
    with brand_scope(brand):
        rows = dict(Schedule.objects.for_brand(brand).filter(staff=both).values_list("date", "store_id"))
    assert rows == {monday: second_store.pk, tuesday: store.pk}


def test_the_records_page_reads_the_months_day_records_once(client, brand, store, brand_admin, late_day):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login_as(client, brand_admin)
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(f"{RECORDS}?store={store.pk}&month={late_day.date:%Y-%m}")
    assert r.status_code == 200 and f'data-testid="day-{late_day.pk}"' in r.content.decode()
    reads = [q["sql"] for q in ctx.captured_queries if 'FROM "attendance_dayrecord"' in q["sql"]]
    assert len(reads) == 1, reads
