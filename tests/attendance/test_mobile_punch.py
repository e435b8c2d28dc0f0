"""Phone punches: the risk of a punch (new phone, outside the store or no location, odd hour, a
pattern), the brand's face policy (always / risk / never; staff cannot change it), the face way
(1:1 on real photos) and the PIN way (inside the store, with a reason when the face was needed),
one punch per form key (replays and two requests at once), and bad input refused whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from attendance import faces, gallery, phone, records, services
from attendance.models import AttendancePolicy, PhoneDevice, PhonePunchKey, Punch
from attendance.views import mobile
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory, StoreFactory
from tests.helpers.auth import login_as
from tests.helpers.concurrency import race
from tests.helpers.faces import FACES

pytestmark = pytest.mark.django_db
needs_faces = pytest.mark.skipif(not FACES.is_dir(), reason="the face photos (../shared/faces) are not here")

# The store (tests/factories.py StoreFactory) is at 31.229200, 121.448800 with a 200 m geofence.
AT_STORE = {"latitude": "31.229300", "longitude": "121.448900", "accuracy": "20"}
FAR_AWAY = {"latitude": "31.240000", "longitude": "121.448800", "accuracy": "20"}  # ~1.2 km north
PIN = "4826"


@pytest.fixture(autouse=True)
def _fresh_gallery():
    gallery.forget()
    yield
    gallery.forget()


@pytest.fixture(scope="module")
def analysed():
    if not FACES.is_dir():
        return {}
    return {
        n: faces.analyse((FACES / n).read_bytes(), checks=False)
        for n in ("obama.jpg", "obama2.jpg", "biden.jpg")
    }


def set_policy(brand, admin, value):
    services.policy_update(brand=brand, manager=admin, actor=Actor.system(), data={"phone_face": value})


def on_shift_now(brand, manager, store, staff):
    """A shift around now in the store's time zone (1 h ago to 3 h on, past midnight if need be)."""
    tz = records.store_tz(store)
    now = timezone.now().astimezone(tz)
    start = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=4)
    shift = records.shift_create(
        brand=brand,
        manager=manager,
        actor=Actor.system(),
        store=store,
        data={"name": f"班{start:%H%M}", "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")},
    )
    records.schedule_set(
        brand=brand,
        manager=manager,
        actor=Actor.system(),
        store=store,
        staff=staff,
        days=[start.date()],
        shift=shift,
    )
    return shift


def enroll(brand, staff, admin, found):
    """Consent and an encoding from an analysed photo (the blink frames as in test_enrollment.py)."""
    text = services.consent_text_publish(
        brand=brand, manager=admin, actor=Actor.system(), title="同意", body="正文"
    )
    services.consent_give(brand=brand, staff=staff, actor=Actor.system(), text=text)
    face = found[0]
    frames = [[replace(face, quality={**face.quality, "ear": e})] for e in (0.31, 0.12, 0.30)]
    services.face_enroll(
        brand=brand, staff=staff, actor=Actor.system(), frames=frames, challenge="blink", source="phone"
    )


@pytest.fixture
def me(client, brand, guide, store, store_manager):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    login_as(client, guide)
    phone.pin_set(brand=brand, staff=guide, actor=Actor.system(), pin=PIN)
    on_shift_now(brand, store_manager, store, guide)
    return guide


def page_key(client) -> str:
    """Open the punch page (it sets the phone's cookie) and read the form key."""
    html = client.get(reverse("att-m-punch")).content.decode()
    return html.split('data-key="', 1)[1].split('"', 1)[0]


def send(client, key, where=AT_STORE, **data):
    return client.post(reverse("att-m-punch-send"), {"key": key, **(where or {}), **data})


def punches(brand, staff):
    with brand_scope(brand):
        return list(Punch.objects.for_brand(brand).filter(staff=staff).order_by("id"))


def turning(name: str, shears=(-0.35, 0.0, 0.4)) -> list[SimpleUploadedFile]:
    """Frames of the photo turning its head (sheared sideways, see test_mobile.py)."""
    from tests.attendance.test_mobile import sheared

    return [
        SimpleUploadedFile(f"f{i}.jpg", sheared(name, k), content_type="image/jpeg")
        for i, k in enumerate(shears)
    ]


@pytest.fixture
def turn(monkeypatch):
    monkeypatch.setattr(mobile, "choose_challenge", lambda: "turn")


def face_send(client, key, frames, where=AT_STORE):
    """The face way as the page does it: the check gives the challenge, then the frames go."""
    client.post(reverse("att-m-punch-check"), where or {})
    return client.post(reverse("att-m-punch-send"), {"key": key, **(where or {}), "frame": frames})


# --- risk --------------------------------------------------------------------------------------


def _at(store, day_offset: int, hh: int, mm: int = 0) -> datetime:
    tz = records.store_tz(store)
    day = timezone.now().astimezone(tz).date() + timedelta(days=day_offset)
    return datetime.combine(day, time(hh, mm), tzinfo=tz)


def test_risk_of_a_new_phone_and_of_the_location(brand, guide, store):
    at = _at(store, 0, 14)
    where = phone.location_parse(**AT_STORE)
    a = phone.assess(brand=brand, staff=guide, store=store, where=where, device_token="phone-1", at=at)
    assert a.risk == ["new_device"] and a.inside and a.distance_m < 30
    phone._device_remember(brand, guide, "phone-1", "UA")
    a = phone.assess(brand=brand, staff=guide, store=store, where=where, device_token="phone-1", at=at)
    assert a.risk == []
    far = phone.location_parse(**FAR_AWAY)
    a = phone.assess(brand=brand, staff=guide, store=store, where=far, device_token="phone-1", at=at)
    assert a.risk == ["outside_geofence"] and not a.inside and 1100 < a.distance_m < 1300
    a = phone.assess(brand=brand, staff=guide, store=store, where=None, device_token="phone-1", at=at)
    assert a.risk == ["no_location"] and a.distance_m is None
    # The phone is known per person: someone else on the same phone is on a new device.
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    a = phone.assess(brand=brand, staff=other, store=store, where=where, device_token="phone-1", at=at)
    assert "new_device" in a.risk


def test_a_store_without_coordinates_has_no_geofence_to_be_inside(brand, guide):
    store = StoreFactory(brand=brand, latitude=None, longitude=None)
    a = phone.assess(
        brand=brand,
        staff=guide,
        store=store,
        where=phone.location_parse(**AT_STORE),
        device_token=None,
        at=_at(store, 0, 14),
    )
    assert "outside_geofence" in a.risk and not a.inside and a.distance_m is None


@pytest.mark.parametrize(
    ("hh", "odd"), [(6, True), (7, False), (12, False), (20, False), (21, True), (23, True)]
)
def test_odd_hour_is_outside_the_days_shift_by_more_than_two_hours(
    brand, guide, store, store_manager, hh, odd
):
    shift = records.shift_create(
        brand=brand,
        manager=store_manager,
        actor=Actor.system(),
        store=store,
        data={"name": "早班", "start": "09:00", "end": "18:00"},
    )
    day = _at(store, 0, 0).date()
    records.schedule_set(
        brand=brand,
        manager=store_manager,
        actor=Actor.system(),
        store=store,
        staff=guide,
        days=[day],
        shift=shift,
    )
    at = _at(store, 0, hh, 30 if hh == 6 else 0)
    a = phone.assess(brand=brand, staff=guide, store=store, where=None, device_token=None, at=at)
    assert ("odd_hour" in a.risk) is odd


def test_an_overnight_shift_is_not_odd_after_midnight(brand, guide, store, store_manager):
    shift = records.shift_create(
        brand=brand,
        manager=store_manager,
        actor=Actor.system(),
        store=store,
        data={"name": "夜班", "start": "22:00", "end": "06:00"},
    )
    day = _at(store, 0, 0).date()
    records.schedule_set(
        brand=brand,
        manager=store_manager,
        actor=Actor.system(),
        store=store,
        staff=guide,
        days=[day],
        shift=shift,
    )
    a = phone.assess(
        brand=brand, staff=guide, store=store, where=None, device_token=None, at=_at(store, 1, 2)
    )
    assert "odd_hour" not in a.risk


@pytest.mark.parametrize(("hh", "odd"), [(5, True), (6, False), (13, False), (21, False), (22, True)])
def test_without_a_shift_the_night_is_odd(brand, guide, store, hh, odd):
    a = phone.assess(
        brand=brand, staff=guide, store=store, where=None, device_token=None, at=_at(store, 0, hh)
    )
    assert ("odd_hour" in a.risk) is odd


def test_three_risky_punches_in_a_week_make_a_pattern(brand, guide, store):
    at = _at(store, 0, 14)
    for days in (1, 3):
        records.punch_record(
            brand=brand,
            staff=guide,
            store=store,
            occurred_at=at - timedelta(days=days),
            source="phone_pin",
            risk=["new_device"],
        )
    records.punch_record(
        brand=brand,
        staff=guide,
        store=store,
        occurred_at=at - timedelta(days=9),
        source="phone_pin",
        risk=["odd_hour"],
    )
    records.punch_record(
        brand=brand, staff=guide, store=store, occurred_at=at - timedelta(days=2), source="phone_pin"
    )
    a = phone.assess(brand=brand, staff=guide, store=store, where=None, device_token=None, at=at)
    assert "pattern" not in a.risk
    records.punch_record(
        brand=brand,
        staff=guide,
        store=store,
        occurred_at=at - timedelta(days=6),
        source="phone_pin",
        risk=["odd_hour"],
    )
    a = phone.assess(brand=brand, staff=guide, store=store, where=None, device_token=None, at=at)
    assert "pattern" in a.risk


# --- the policy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "risky", "needed"),
    [
        ("always", False, True),
        ("always", True, True),
        ("risk", False, False),
        ("risk", True, True),
        ("never", True, False),
    ],
)
def test_the_policy_decides_when_the_face_is_needed(brand, brand_admin, guide, store, policy, risky, needed):
    set_policy(brand, brand_admin, policy)
    phone._device_remember(brand, guide, "p", "UA")
    where = phone.location_parse(**(FAR_AWAY if risky else AT_STORE))
    a = phone.assess(
        brand=brand, staff=guide, store=store, where=where, device_token="p", at=_at(store, 0, 14)
    )
    assert bool(a.risk) is risky and a.face_needed is needed


def test_staff_cannot_change_the_policy(client, me, brand, store_manager):
    for who in (me, store_manager):
        with pytest.raises(PermissionDenied):
            services.policy_update(
                brand=brand, manager=who, actor=Actor.system(), data={"phone_face": "never"}
            )
    # Nor through the phone pages: what the page sends about the policy is not read.
    key = page_key(client)
    send(client, key, phone_face="never", policy="never", pin=PIN, reason="")
    assert services.policy_get(brand=brand).phone_face == AttendancePolicy.PhoneFace.RISK


# --- the PIN way -------------------------------------------------------------------------------


def test_check_says_what_a_punch_needs_and_writes_nothing(client, me, brand):
    page_key(client)
    body = client.post(reverse("att-m-punch-check"), AT_STORE).json()
    assert (
        body["risk"] == ["new_device"]
        and body["face_needed"]
        and body["pin_allowed"]
        and body["reason_needed"]
    )
    assert body["can_face"] is False and body["inside"] is True
    assert punches(brand, me) == []


def test_a_pin_punch_from_a_new_phone_needs_a_reason_then_the_phone_is_known(client, me, brand, store):
    key = page_key(client)
    response = send(client, key, pin=PIN)
    assert response.status_code == 422 and response.json()["code"] == "reason_needed"
    assert punches(brand, me) == []
    response = send(client, key, pin=PIN, reason="手机摄像头坏了")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] and body["punch"]["source"] == "phone_pin" and body["punch"]["risk"] == ["new_device"]
    (p,) = punches(brand, me)
    assert p.source == "phone_pin" and p.reason == "手机摄像头坏了" and not p.face_checked
    assert p.store_id == store.pk and p.distance_m is not None and p.distance_m < 30 and p.accuracy_m == 20
    with brand_scope(brand):
        assert PhoneDevice.objects.for_brand(brand).filter(staff=me).count() == 1
    # The same phone again, at the store, on shift: no risk, no reason, a new key from the answer.
    response = send(client, body["key"], pin=PIN)
    assert response.status_code == 200 and response.json()["punch"]["risk"] == []
    assert punches(brand, me)[-1].reason == ""


def test_a_pin_punch_works_only_inside_the_store(client, me, brand):
    key = page_key(client)
    for where in (FAR_AWAY, None):
        response = send(client, key, where=where, pin=PIN, reason="在路上")
        assert response.status_code == 422 and response.json()["code"] == "outside_geofence"
    assert punches(brand, me) == []


def test_a_wrong_pin_records_nothing_and_five_lock_it(client, me, brand):
    key = page_key(client)
    for _ in range(4):
        response = send(client, key, pin="0000", reason="x")
        assert response.status_code == 422 and response.json()["code"] == "wrong_pin"
    response = send(client, key, pin="0000", reason="x")
    assert response.status_code == 429 and response.json()["code"] == "locked"
    assert send(client, key, pin=PIN, reason="x").status_code == 429
    assert punches(brand, me) == []


# --- the face way ------------------------------------------------------------------------------


@needs_faces
def test_a_face_punch_is_checked_one_to_one_against_the_persons_own_face(
    client, me, brand, brand_admin, analysed, turn
):
    enroll(brand, me, brand_admin, analysed["obama.jpg"])
    # Another person's face (enrolled for someone else, too) does not punch for me.
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE)
    enroll(brand, other, brand_admin, analysed["biden.jpg"])
    key = page_key(client)
    response = face_send(client, key, turning("biden2.jpg", shears=(-0.3, 0.0, 0.35)), FAR_AWAY)
    assert response.status_code == 422 and response.json()["code"] == "face_mismatch"
    assert response.json()["challenge"] == "turn"  # the next try has its instruction
    assert punches(brand, me) == []
    response = face_send(client, key, turning("obama.jpg"), FAR_AWAY)
    assert response.status_code == 200, response.content
    (p,) = punches(brand, me)
    assert p.source == "phone_face" and p.face_checked and p.face_distance <= 0.45
    assert p.risk == ["new_device", "outside_geofence"] and p.distance_m > 1000 and p.reason == ""


@needs_faces
def test_a_face_punch_needs_an_enrolled_face(client, me, brand, turn):
    key = page_key(client)
    response = face_send(client, key, turning("obama.jpg"))
    assert response.status_code == 422 and response.json()["code"] == "not_enrolled"
    assert punches(brand, me) == []


@needs_faces
def test_two_faces_in_the_punch_frames_are_refused(client, me, brand, brand_admin, analysed, turn):
    enroll(brand, me, brand_admin, analysed["obama.jpg"])
    key = page_key(client)
    response = face_send(client, key, turning("obama_and_biden.jpg"))
    assert response.status_code == 422 and response.json()["code"] == "many_faces"


@needs_faces
def test_a_photo_held_up_to_the_phone_does_not_punch(client, me, brand, brand_admin, analysed, turn):
    enroll(brand, me, brand_admin, analysed["obama.jpg"])
    key = page_key(client)
    response = face_send(client, key, turning("obama.jpg", shears=(0.0, 0.0, 0.0)))
    assert response.status_code == 422 and response.json()["code"] == "liveness"
    assert punches(brand, me) == []


@needs_faces
def test_frames_need_the_challenge_the_check_gave(client, me, brand, brand_admin, analysed, turn):
    enroll(brand, me, brand_admin, analysed["obama.jpg"])
    key = page_key(client)
    frames = turning("obama.jpg")
    response = client.post(reverse("att-m-punch-send"), {"key": key, **AT_STORE, "frame": frames})
    assert response.status_code == 422 and response.json()["code"] == "no_challenge"
    assert punches(brand, me) == []


# --- once per key, bad input -------------------------------------------------------------------


def test_a_replayed_form_records_one_punch(client, me, brand):
    key = page_key(client)
    assert send(client, key, pin=PIN, reason="r").status_code == 200
    response = send(client, key, pin=PIN, reason="r")
    assert response.status_code == 409 and response.json()["code"] == "replay"
    assert len(punches(brand, me)) == 1


@pytest.mark.parametrize("key", ["", "forged", "x" * 300])
def test_a_key_the_server_did_not_give_is_refused(client, me, brand, key):
    response = send(client, key, pin=PIN, reason="r")
    assert response.status_code == 400 and response.json()["code"] == "bad_key"
    assert punches(brand, me) == []


def test_anothers_key_is_refused(client, me, brand, store):
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    other_client = Client()
    login_as(other_client, other)
    key = page_key(other_client)
    assert send(client, key, pin=PIN, reason="r").json()["code"] == "bad_key"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"latitude": "abc", "longitude": "121"}, "bad_location"),
        ({"latitude": "91", "longitude": "121"}, "bad_location"),
        ({"latitude": "NaN", "longitude": "121"}, "bad_location"),
        ({"latitude": "31.2", "longitude": "121.4", "accuracy": "-5"}, "bad_location"),
        ({**AT_STORE, "store": "999999", "pin": PIN}, "not_your_store"),
        ({**AT_STORE, "store": "abc", "pin": PIN}, "not_your_store"),
        ({**AT_STORE, "reason": "x" * 201, "pin": PIN}, "invalid"),
        (AT_STORE, "nothing"),
    ],
)
def test_bad_input_is_refused_whole(client, me, brand, data, code):
    key = page_key(client)
    response = client.post(reverse("att-m-punch-send"), {"key": key, **data})
    assert 400 <= response.status_code < 500 and response.json()["code"] == code
    assert punches(brand, me) == []
    with brand_scope(brand):
        assert not PhonePunchKey.objects.for_brand(brand).exists()


def test_bad_frames_are_refused_before_any_analysis(client, me, brand, monkeypatch):
    monkeypatch.setattr(mobile.pool, "analyse_sync", lambda *a, **k: pytest.fail("analysed"))
    key = page_key(client)
    big = b"\xff\xd8\xff" + b"0" * mobile.MAX_FRAME_BYTES
    cases = [
        ([SimpleUploadedFile(f"{i}.jpg", b"GIF89a") for i in range(3)], "bad_image"),
        ([SimpleUploadedFile(f"{i}.jpg", big) for i in range(3)], "too_large"),
        ([SimpleUploadedFile("a.jpg", b"\xff\xd8\xff")], "frames"),
        ([SimpleUploadedFile(f"{i}.jpg", b"\xff\xd8\xff") for i in range(mobile.MAX_FRAMES + 1)], "frames"),
    ]
    for files, code in cases:
        response = face_send(client, key, files)
        assert response.status_code == 422 and response.json()["code"] == code
    assert punches(brand, me) == []


def test_get_is_not_a_punch(client, me):
    assert client.get(reverse("att-m-punch-send")).status_code == 405
    assert client.get(reverse("att-m-punch-check")).status_code == 405


def test_an_inactive_person_cannot_punch(brand, guide, store):
    guide.status = Staff.Status.LEFT
    with pytest.raises(ValidationError) as err:
        phone.phone_punch(
            brand=brand, staff=guide, actor=Actor.system(), key="k", where=None, device_token=None, pin=PIN
        )
    assert err.value.code == "inactive"


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_at_once_record_one_punch(brand, guide, store, store_manager):
    phone.pin_set(brand=brand, staff=guide, actor=Actor.system(), pin=PIN)
    on_shift_now(brand, store_manager, store, guide)
    where = phone.location_parse(**AT_STORE)

    def go(i):
        return phone.phone_punch(
            brand=brand,
            staff=guide,
            actor=Actor.system(),
            key="same-key",
            where=where,
            device_token=None,
            pin=PIN,
            reason="r",
        )

    results, errors = race(4, go)
    assert len(results) == 1
    assert len(errors) == 3 and all(isinstance(e, ValidationError) and e.code == "replay" for e in errors)
    assert len(punches(brand, guide)) == 1


# --- the notice and the notification ---------------------------------------------------------


def test_the_person_is_told_once_per_punch_whatever_made_it(brand, guide, store):
    from guides.models import Notification
    from guides.services import notify

    p = records.punch_record(
        brand=brand,
        staff=guide,
        store=store,
        occurred_at=_at(store, 0, 9, 2),
        source="kiosk_face",
        offline=True,
    )
    payload = {
        "punch_id": p.pk,
        "staff_id": guide.pk,
        "store_id": store.pk,
        "source": "kiosk_face",
        "occurred_at": p.occurred_at.isoformat(),
        "offline": True,
    }
    assert notify.punch_recorded(brand=brand, payload=payload) == 1
    assert notify.punch_recorded(brand=brand, payload=payload) == 0  # delivered again: told once
    with brand_scope(brand):
        (note,) = Notification.objects.for_brand(brand).filter(staff=guide, kind="punch")
    assert note.data["time"] == "09:02" and note.data["store"] == store.name
    from django.utils import translation

    with translation.override("en"):
        assert (
            note.message
            == f"Punch recorded at 09:02, {store.name}. It was sent when the device was back online."
        )


def test_a_punch_is_announced_to_the_person(client, me, brand, django_capture_on_commit_callbacks):
    from guides.models import Notification
    from guides.push import LogPush

    LogPush.outbox.clear()
    key = page_key(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, key, pin=PIN, reason="r")
    assert response.status_code == 200
    assert "Punch recorded at" in response.json()["message"]
    with brand_scope(brand):
        (note,) = Notification.objects.for_brand(brand).filter(staff=me, kind="punch")
    assert (
        note.data["store"]
        and note.data["time"]
        and note.link.startswith(reverse("att-m-records") + "?month=")
    )
    (push,) = [m for m in LogPush.outbox if m["staff"] == me.pk]
    assert push["link"] == note.link and note.data["time"] in push["body"]


@needs_faces
def test_with_the_policy_never_the_phone_does_not_take_faces(client, me, brand, brand_admin, analysed, turn):
    enroll(brand, me, brand_admin, analysed["obama.jpg"])
    set_policy(brand, brand_admin, "never")
    key = page_key(client)
    body = client.post(reverse("att-m-punch-check"), FAR_AWAY).json()
    assert body["face_needed"] is False and body["can_face"] is False and body["pin_allowed"] is False
    response = face_send(client, key, turning("obama.jpg"), FAR_AWAY)
    assert response.status_code == 422 and response.json()["code"] == "face_off"
    assert punches(brand, me) == []
    # Inside the store the PIN is enough, without a reason, whatever the risk.
    response = send(client, key, pin=PIN)
    assert response.status_code == 200 and response.json()["punch"]["risk"] == ["new_device"]
