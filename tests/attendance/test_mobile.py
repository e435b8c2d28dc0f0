"""The staff phone pages of attendance: consent, withdrawal, the punch PIN, face enrollment with a
liveness challenge over HTTP (real photos), 我的考勤, and bad input.

Enrollment frames are made here from ../shared/faces/obama.jpg: the same photo sheared left,
straight and right reads as a head turning (the "turn" challenge); nothing is written to disk."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from attendance import gallery, phone, records, services
from attendance.models import FaceConsent, FaceEncoding, StaffPin
from attendance.views import mobile
from retail.events import Actor
from retail.models import AuditLog, Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory
from tests.helpers.auth import login_as
from tests.helpers.faces import FACES

pytestmark = pytest.mark.django_db
needs_faces = pytest.mark.skipif(not FACES.is_dir(), reason="the face photos (../shared/faces) are not here")


def sheared(name: str, k: float) -> bytes:
    """The photo (640 px at most) sheared sideways by ``k``: the nose moves against the eyes as if
    the head turned. JPEG bytes, in memory."""
    img = Image.open(FACES / name).convert("RGB")
    img.thumbnail((640, 640))
    w, h = img.size
    out = img.transform((w, h), Image.Transform.AFFINE, (1, k, -k * h / 2, 0, 1, 0), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=90)
    return buf.getvalue()


TURN = (-0.35, 0.0, 0.4)


@pytest.fixture(autouse=True)
def _fresh_gallery():
    gallery.forget()
    yield
    gallery.forget()


@pytest.fixture
def consent_text(brand, brand_admin):
    return services.consent_text_publish(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        title="人脸信息处理单独同意",
        body="我们只保存人脸特征值。",
    )


@pytest.fixture
def me(client, guide):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # pages in English
    login_as(client, guide)
    return guide


def _frames(name="obama.jpg", shears=TURN):
    return [("frame", (f"f{i}.jpg", sheared(name, k), "image/jpeg")) for i, k in enumerate(shears)]


def _post_frames(client, files, **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"frame": [SimpleUploadedFile(n, b, content_type=t) for _f, (n, b, t) in files]}
    return client.post(reverse("att-m-enroll"), data, **extra)


def _consent(brand, staff, text):
    services.consent_give(brand=brand, staff=staff, actor=Actor.system(), text=text)


# --- pages -------------------------------------------------------------------------------------


def test_pages_need_a_login(client):
    for name in ("att-m-home", "att-m-punch", "att-m-records", "att-m-face", "att-m-pin", "att-m-enroll"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_home_shows_today_and_the_ways_to_set_up(client, me, consent_text):
    html = client.get(reverse("att-m-home")).content.decode()
    assert 'data-testid="att-punch-link"' in html
    assert "Not set up" in html and "Not set: needed to punch without your face" in html


def test_the_staff_home_links_to_attendance(client, me):
    html = client.get(reverse("home")).content.decode()
    assert reverse("att-m-home") in html


# --- consent -----------------------------------------------------------------------------------


def test_consent_is_given_separately_by_the_person_and_recorded(client, me, brand, consent_text):
    page = client.get(reverse("att-m-consent")).content.decode()
    assert consent_text.title in page and consent_text.body in page
    # Not ticked: nothing recorded.
    response = client.post(reverse("att-m-consent"), {"text": consent_text.pk})
    assert response.status_code == 400
    assert services.consent_active(brand=brand, staff=me) is None
    response = client.post(reverse("att-m-consent"), {"text": consent_text.pk, "agree": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("att-m-enroll")
    row = services.consent_active(brand=brand, staff=me)
    assert row.text_id == consent_text.pk and row.user_agent is not None
    with brand_scope(brand):
        assert AuditLog.objects.for_brand(brand).filter(action="face.consent_given").exists()


def test_consent_to_an_older_text_is_refused(client, me, brand, brand_admin, consent_text):
    services.consent_text_publish(
        brand=brand, manager=brand_admin, actor=Actor.system(), title="v2", body="新版"
    )
    response = client.post(reverse("att-m-consent"), {"text": consent_text.pk, "agree": "1"})
    assert response.status_code == 400
    assert services.consent_active(brand=brand, staff=me) is None


def test_without_a_consent_text_there_is_no_face_punch(client, me):
    html = client.get(reverse("att-m-face")).content.decode()
    assert 'data-testid="no-consent-text"' in html
    assert client.get(reverse("att-m-enroll"))["Location"] == reverse("att-m-consent")


# --- enrollment --------------------------------------------------------------------------------


@needs_faces
def test_enrollment_over_http_with_a_head_turn_keeps_only_an_encoding(
    client, me, brand, consent_text, monkeypatch
):
    monkeypatch.setattr(mobile, "choose_challenge", lambda: "turn")
    _consent(brand, me, consent_text)
    page = client.get(reverse("att-m-enroll")).content.decode()
    assert 'data-challenge="turn"' in page
    response = _post_frames(client, _frames())
    assert response.status_code == 200, response.content
    assert response.json()["ok"] is True and response.json()["enrolled"] == 1
    with brand_scope(brand):
        rows = list(FaceEncoding.objects.for_brand(brand).filter(staff=me))
    assert len(rows) == 1 and rows[0].source == "phone"
    assert set(rows[0].quality) == {"size", "blur", "brightness", "yaw", "roll"}


@needs_faces
def test_still_frames_do_not_answer_the_challenge(client, me, brand, consent_text, monkeypatch):
    monkeypatch.setattr(mobile, "choose_challenge", lambda: "turn")
    _consent(brand, me, consent_text)
    client.get(reverse("att-m-enroll"))
    response = _post_frames(client, _frames(shears=(0.0, 0.0, 0.0)))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "liveness" and "blink or turn" in body["message"]
    assert body["challenge"] == "turn" and body["instruction"]
    with brand_scope(brand):
        assert not FaceEncoding.objects.for_brand(brand).filter(staff=me).exists()


@needs_faces
def test_two_faces_are_refused_with_a_clear_message(client, me, brand, consent_text, monkeypatch):
    monkeypatch.setattr(mobile, "choose_challenge", lambda: "turn")
    _consent(brand, me, consent_text)
    client.get(reverse("att-m-enroll"))
    response = _post_frames(client, _frames("obama_and_biden.jpg"))
    assert response.status_code == 422
    assert response.json()["code"] == "many_faces"
    assert "More than one face" in response.json()["message"]


def test_enrollment_refuses_bad_uploads_before_any_analysis(client, me, brand, consent_text, monkeypatch):
    _consent(brand, me, consent_text)
    monkeypatch.setattr(mobile.pool, "analyse_sync", lambda *a, **k: pytest.fail("analysed"))
    from django.core.files.uploadedfile import SimpleUploadedFile

    def post(files):
        client.get(reverse("att-m-enroll"))
        return client.post(reverse("att-m-enroll"), {"frame": files})

    def jpeg(size=10):
        return b"\xff\xd8\xff" + b"0" * size

    cases = {
        "frames": [],
        "too_large": [SimpleUploadedFile("a.jpg", jpeg(mobile.MAX_FRAME_BYTES + 1)) for _ in range(3)],
        "bad_image": [SimpleUploadedFile("a.jpg", b"GIF89a....") for _ in range(3)],
    }
    for code, files in cases.items():
        response = post(files)
        assert response.status_code == 422 and response.json()["code"] == code, code
    response = post([SimpleUploadedFile("a.jpg", jpeg()) for _ in range(mobile.MAX_FRAMES + 1)])
    assert response.json()["code"] == "frames"


def test_a_frame_that_is_no_image_is_refused(client, me, brand, consent_text):
    _consent(brand, me, consent_text)
    client.get(reverse("att-m-enroll"))
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [
        SimpleUploadedFile("a.jpg", b"\xff\xd8\xff\xe0broken", content_type="image/jpeg") for _ in range(3)
    ]
    response = client.post(reverse("att-m-enroll"), {"frame": files})
    assert response.status_code == 422 and response.json()["code"] == "bad_image"


def test_enrollment_needs_a_challenge_issued_by_the_page(client, me, brand, consent_text):
    _consent(brand, me, consent_text)
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [SimpleUploadedFile("a.jpg", b"\xff\xd8\xff") for _ in range(3)]
    response = client.post(reverse("att-m-enroll"), {"frame": files})
    assert response.status_code == 422 and response.json()["code"] == "no_challenge"


def test_enrollment_needs_consent(client, me, consent_text):
    response = client.post(reverse("att-m-enroll"), {})
    assert response.status_code == 422 and response.json()["code"] == "no_consent"


# --- withdrawal --------------------------------------------------------------------------------


@needs_faces
def test_withdrawing_consent_deletes_the_encodings_after_a_confirmation(
    client, me, brand, consent_text, monkeypatch
):
    monkeypatch.setattr(mobile, "choose_challenge", lambda: "turn")
    _consent(brand, me, consent_text)
    client.get(reverse("att-m-enroll"))
    assert _post_frames(client, _frames()).status_code == 200
    page = client.get(reverse("att-m-withdraw")).content.decode()
    assert 'data-testid="withdraw-confirm"' in page
    with brand_scope(brand):
        assert FaceEncoding.objects.for_brand(brand).filter(staff=me).count() == 1
    response = client.post(reverse("att-m-withdraw"))
    assert response.status_code == 302
    with brand_scope(brand):
        assert not FaceEncoding.objects.for_brand(brand).filter(staff=me).exists()
        assert FaceConsent.objects.for_brand(brand).get(staff=me).withdrawn_at is not None
    assert services.consent_active(brand=brand, staff=me) is None


# --- PIN ---------------------------------------------------------------------------------------


def test_pin_is_set_hashed_and_changed_with_the_current_one(client, me, brand):
    response = client.post(reverse("att-m-pin"), {"pin": "4826", "pin2": "4826"})
    assert response.status_code == 302
    with brand_scope(brand):
        row = StaffPin.objects.for_brand(brand).get(staff=me)
    assert "4826" not in row.pin_hash
    phone.pin_check(brand=brand, staff=me, pin="4826")
    # Changing needs the current PIN.
    response = client.post(reverse("att-m-pin"), {"current": "0000", "pin": "739154", "pin2": "739154"})
    assert response.status_code == 400 and b"Wrong PIN" in response.content
    response = client.post(reverse("att-m-pin"), {"current": "4826", "pin": "739154", "pin2": "739154"})
    assert response.status_code == 302
    phone.pin_check(brand=brand, staff=me, pin="739154")
    with brand_scope(brand):
        assert AuditLog.objects.for_brand(brand).filter(action="attendance.pin_set").count() == 2


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", "1111", "1234", ""])
def test_a_pin_is_four_to_eight_digits_not_easy_to_guess(client, me, brand, pin):
    response = client.post(reverse("att-m-pin"), {"pin": pin, "pin2": pin})
    assert response.status_code == 400
    assert not phone.pin_is_set(brand=brand, staff=me)


def test_the_two_pins_must_agree(client, me, brand):
    response = client.post(reverse("att-m-pin"), {"pin": "4826", "pin2": "4827"})
    assert response.status_code == 400 and not phone.pin_is_set(brand=brand, staff=me)


def test_five_wrong_pins_lock_it(brand, guide):
    from django.core.exceptions import ValidationError

    phone.pin_set(brand=brand, staff=guide, actor=Actor.system(), pin="4826")
    for _ in range(4):
        with pytest.raises(ValidationError) as err:
            phone.pin_check(brand=brand, staff=guide, pin="0000")
        assert err.value.error_dict["pin"][0].code == "wrong_pin"
    with pytest.raises(ValidationError) as err:
        phone.pin_check(brand=brand, staff=guide, pin="0000")
    assert err.value.error_dict["pin"][0].code == "locked"
    with pytest.raises(ValidationError) as err:  # even the right PIN, while locked
        phone.pin_check(brand=brand, staff=guide, pin="4826")
    assert err.value.error_dict["pin"][0].code == "locked"
    with brand_scope(brand):
        StaffPin.objects.for_brand(brand).filter(staff=guide).update(
            locked_until=timezone.now() - timedelta(seconds=1)
        )
    phone.pin_check(brand=brand, staff=guide, pin="4826")


# --- 我的考勤 ------------------------------------------------------------------------------------


def test_my_records_show_the_month_with_statuses_punches_and_totals(client, me, brand, store, store_manager):
    today = timezone.localdate()
    shift = records.shift_create(
        brand=brand,
        manager=store_manager,
        actor=Actor.system(),
        store=store,
        data={"name": "早班", "start": "09:00", "end": "18:00"},
    )
    day = today.replace(day=1)
    records.schedule_set(
        brand=brand,
        manager=store_manager,
        actor=Actor.system(),
        store=store,
        staff=me,
        days=[day],
        shift=shift,
    )
    start = records.shift_times(day, shift, store).start
    records.punch_record(
        brand=brand, staff=me, store=store, occurred_at=start + timedelta(minutes=12), source="phone_pin"
    )
    records.punch_record(
        brand=brand,
        staff=me,
        store=store,
        occurred_at=start + timedelta(hours=9, minutes=5),
        source="phone_face",
        face_checked=True,
    )
    html = client.get(reverse("att-m-records"), {"month": f"{day:%Y-%m}"}).content.decode()
    assert f'data-testid="day-{day:%Y-%m-%d}"' in html
    assert 'data-status="late"' in html and "12 min late" in html
    assert "09:12" in html and "18:05" in html
    assert "2 punches · 12 minutes late" in html
    assert 'data-testid="month-next"' not in html or day.month != today.month
    # Someone else's punches never show.
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    records.punch_record(
        brand=brand, staff=other, store=store, occurred_at=start + timedelta(minutes=1), source="phone_pin"
    )
    assert "09:01" not in client.get(reverse("att-m-records"), {"month": f"{day:%Y-%m}"}).content.decode()


def test_my_records_keep_an_overnight_shifts_punches_after_midnight_with_its_day(
    client, me, brand, store, store_manager
):
    night = records.shift_create(
        brand=brand,
        manager=store_manager,
        actor=Actor.system(),
        store=store,
        data={"name": "夜班", "start": "22:00", "end": "06:00"},
    )
    last_month = timezone.localdate().replace(day=1) - timedelta(days=1)
    nights = [last_month.replace(day=1), last_month]  # the month's first night, and its last
    records.schedule_set(
        brand=brand,
        manager=store_manager,
        actor=Actor.system(),
        store=store,
        staff=me,
        days=nights,
        shift=night,
    )
    for day in nights:
        start = records.shift_times(day, night, store).start
        for offset in (timedelta(minutes=-5), timedelta(hours=2, minutes=7), timedelta(hours=8, minutes=1)):
            records.punch_record(
                brand=brand, staff=me, store=store, occurred_at=start + offset, source="phone_pin"
            )
    html = client.get(reverse("att-m-records"), {"month": f"{last_month:%Y-%m}"}).content.decode()
    # Each night shows its three punches: 21:55, and 00:07 and 06:01 of the next morning (for the
    # month's last night, in the next month), under the day it started.
    for day in nights:
        row = html.split(f'data-testid="day-{day:%Y-%m-%d}"', 1)[1].split("</li>", 1)[0]
        assert "21:55" in row and "00:07" in row and "06:01" in row, day
    assert "6 punches" in html
    # The first night's after-midnight punches are not shown again under a day of their own.
    second = nights[0] + timedelta(days=1)
    assert f'data-testid="day-{second:%Y-%m-%d}"' not in html


@pytest.mark.parametrize("month", ["2026-13", "abc", "1999-01", "2026-"])
def test_a_month_that_is_none_is_not_found(client, me, month):
    assert client.get(reverse("att-m-records"), {"month": month}).status_code == 404


def test_previous_months_are_reachable(client, me):
    html = client.get(reverse("att-m-records")).content.decode()
    assert 'data-testid="month-prev"' in html and 'data-testid="records-empty"' in html


def test_guessing_the_current_pin_on_the_change_page_locks_it(client, me, brand):
    phone.pin_set(brand=brand, staff=me, actor=Actor.system(), pin="4826")
    for _ in range(5):
        response = client.post(reverse("att-m-pin"), {"current": "0000", "pin": "739154", "pin2": "739154"})
        assert response.status_code == 400
    assert b"Too many wrong PINs" in response.content
    response = client.post(reverse("att-m-pin"), {"current": "4826", "pin": "739154", "pin2": "739154"})
    assert response.status_code == 400 and b"Too many wrong PINs" in response.content
    with brand_scope(brand):
        assert StaffPin.objects.for_brand(brand).get(staff=me).locked_until > timezone.now()
