"""The kiosk handler (attendance/kiosk.py) on real photos: 1:N among the store's staff, door windows,
access records and punches, PIN checks with the lock, offline PIN punches, refusal alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from attendance import gallery, kiosk
from attendance.models import AccessRecord, DayRecord, Punch, StaffPin
from devices.models import Device, DeviceEvent
from guides.models import Notification
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.attendance.kiosk_helpers import analysed, enroll, set_pin
from tests.factories import StaffFactory, StoreFactory
from tests.helpers.devices import make_device
from tests.helpers.faces import FACES

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not FACES.is_dir(), reason="the face photos (../shared/faces) are not here"),
]

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _fresh_gallery():
    gallery.forget()
    yield
    gallery.forget()


@pytest.fixture
def obama(brand, brand_admin, store):
    person = StaffFactory(brand=brand, stores=[store], name="奥巴马", employee_no="A01")
    enroll(brand, brand_admin, person, "obama.jpg")
    return person


def _device(brand, admin, store, kind="clock_in", **config):
    device, _secret = make_device(brand, admin, store, kind=kind, name=f"{kind}-机")
    if config:
        with brand_scope(brand):
            Device.objects.for_brand(brand).filter(pk=device.pk).update(config={**device.config, **config})
    return device


def _ts(at: datetime | None = None) -> int:
    return int((at or datetime.now(UTC)).timestamp() * 1000)


def _identify(device, photo, *, event_id="f1", ts=None, purpose="punch"):
    found = analysed(photo)
    event = {
        "type": "identify",
        "id": event_id,
        "ts": ts or _ts(),
        "payload": {"bytes": 1000, "format": "jpeg", "width": 640, "height": 480, "purpose": purpose},
    }
    if len(found) != 1:
        return kiosk.identify(
            brand_id=device.brand_id, device_id=device.pk, skew_ms=0, event=event, face_code="many_faces"
        )
    return kiosk.identify(
        brand_id=device.brand_id, device_id=device.pk, skew_ms=0, event=event, encoding=found[0].encoding
    )


def _rows(model, brand, **filters):
    with brand_scope(brand):
        return list(model.objects.for_brand(brand).filter(**filters))


@pytest.mark.parametrize("photo", ["obama2.jpg", "obama_small.jpg"])
def test_an_enrolled_face_is_recognised_and_punched(brand, brand_admin, store, obama, photo):
    device = _device(brand, brand_admin, store)
    _dev, answer = _identify(device, photo)
    assert answer.result == "punched" and answer.staff == obama and answer.punch
    payload = answer.payload("f1", _dev)
    assert payload["staff"] == {"id": obama.pk, "name": "奥巴马"} and payload["message"] == "打卡成功"
    (punch,) = _rows(Punch, brand)
    assert punch.source == "kiosk_face" and punch.staff_id == obama.pk and punch.face_checked
    assert punch.face_distance < 0.45
    (access,) = _rows(AccessRecord, brand)
    assert access.result == "punched" and access.punch_id == punch.pk and access.staff_id == obama.pk
    (event,) = _rows(DeviceEvent, brand)
    assert punch.device_event_id == event.pk and "image" not in event.payload
    assert event.payload["result"] == "punched" and event.payload["staff_verified"] == obama.pk


@pytest.mark.parametrize("photo", ["biden.jpg", "biden2.jpg"])
def test_a_stranger_is_refused_and_logged(brand, brand_admin, store, obama, photo):
    device = _device(brand, brand_admin, store)
    _dev, answer = _identify(device, photo)
    assert answer.result == "unknown" and answer.staff is None and not answer.punch
    assert answer.payload("f1", _dev)["message"] == "未识别"
    assert _rows(Punch, brand) == []
    (access,) = _rows(AccessRecord, brand)
    assert access.result == "unknown" and access.staff_id is None and access.face_distance > 0.45


def test_a_frame_with_two_faces_is_refused_as_a_bad_frame(brand, brand_admin, store, obama):
    device = _device(brand, brand_admin, store)
    _dev, answer = _identify(device, "obama_and_biden.jpg")
    assert answer.result == "bad_frame"
    assert "不止一张" in answer.payload("f1", _dev)["message"] or answer.payload("f1", _dev)["message"]
    (access,) = _rows(AccessRecord, brand)
    assert access.result == "bad_frame" and _rows(Punch, brand) == []


def test_the_same_frame_sent_again_is_answered_the_same_and_punched_once(brand, brand_admin, store, obama):
    device = _device(brand, brand_admin, store)
    first = _identify(device, "obama2.jpg")[1]
    again = _identify(device, "obama2.jpg")[1]
    assert (again.result, again.staff, again.punch) == (first.result, first.staff, True)
    assert len(_rows(Punch, brand)) == 1 and len(_rows(AccessRecord, brand)) == 1


def test_staff_of_another_store_are_not_assigned_here(brand, brand_admin, store, obama):
    elsewhere = StoreFactory(brand=brand, code="SH002", name="淮海路店")
    device = _device(brand, brand_admin, elsewhere)
    _dev, answer = _identify(device, "obama2.jpg")
    assert answer.result == "not_assigned" and answer.staff is None
    (access,) = _rows(AccessRecord, brand)
    assert access.result == "not_assigned" and access.staff_id == obama.pk
    assert _rows(Punch, brand) == []


def test_someone_who_left_is_not_recognised(brand, brand_admin, store, obama):
    with brand_scope(brand):
        Staff.objects.for_brand(brand).filter(pk=obama.pk).update(status="left", left_on="2026-01-01")
    gallery.forget()
    device = _device(brand, brand_admin, store)
    assert _identify(device, "obama2.jpg")[1].result == "unknown"


# --- doors --------------------------------------------------------------------------------------

WEEKDAYS = [{"days": [1, 2, 3, 4, 5], "start": "08:00", "end": "20:00"}]
NIGHT = [{"days": [5], "start": "22:00", "end": "02:00"}]


@pytest.mark.parametrize(
    ("windows", "local", "open_"),
    [
        ([], "2026-12-05 03:00", True),  # no windows: always
        (WEEKDAYS, "2026-12-07 08:00", True),  # Monday at opening
        (WEEKDAYS, "2026-12-07 19:59", True),
        (WEEKDAYS, "2026-12-07 20:00", False),  # the end is closed
        (WEEKDAYS, "2026-12-07 07:59", False),
        (WEEKDAYS, "2026-12-06 12:00", False),  # Sunday
        (NIGHT, "2026-12-04 23:30", True),  # Friday night
        (NIGHT, "2026-12-05 01:30", True),  # past midnight into Saturday
        (NIGHT, "2026-12-05 02:30", False),
        (NIGHT, "2026-12-05 23:30", False),  # Saturday night is not a Friday
    ],
)
def test_door_windows_in_the_store_time_zone(windows, local, open_):
    at = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI).astimezone(UTC)
    assert kiosk.within_door_windows(windows, at, SHANGHAI) is open_


def _in_window_now() -> list[dict]:
    now = datetime.now(SHANGHAI)
    return [{"days": [now.isoweekday()], "start": "00:00", "end": "23:59"}] if now.hour < 23 else []


def _closed_now() -> list[dict]:
    now = datetime.now(SHANGHAI)
    other = now.isoweekday() % 7 + 1
    return [{"days": [other], "start": "00:00", "end": "00:01"}]


def test_a_door_outside_its_hours_refuses_and_records_no_punch(brand, brand_admin, store, obama):
    door = _device(brand, brand_admin, store, kind="door", door_windows=_closed_now())
    _dev, answer = _identify(door, "obama2.jpg")
    assert answer.result == "outside_window" and not answer.punch and not answer.door_opened
    assert answer.staff == obama
    assert _rows(Punch, brand) == []
    assert _rows(AccessRecord, brand)[0].result == "outside_window"


def test_a_door_and_clock_in_terminal_clocks_in_at_any_hour_but_opens_only_within_them(
    brand, brand_admin, store, obama
):
    both = _device(brand, brand_admin, store, kind="both", door_windows=_closed_now())
    _dev, answer = _identify(both, "obama2.jpg", event_id="clock")
    assert answer.result == "punched" and answer.punch and not answer.door_opened
    _dev, answer = _identify(both, "obama2.jpg", event_id="door", purpose="door")
    assert answer.result == "outside_window" and not answer.punch
    assert [p.source for p in _rows(Punch, brand)] == ["kiosk_face"]


def test_an_offline_door_records_the_punch_without_opening(brand, brand_admin, store, obama):
    door = _device(brand, brand_admin, store, kind="door", door_windows=_in_window_now())
    _dev, answer = _identify(door, "obama2.jpg")
    # Not connected: open_door cannot be sent; the clock-in is kept.
    assert answer.result == "punched" and answer.punch and not answer.door_opened
    (punch,) = _rows(Punch, brand)
    assert punch.source == "door_face"


# --- PIN ------------------------------------------------------------------------------------------


def _numbered(staff, number):
    with brand_scope(staff.brand_id):
        Staff.objects.for_brand(staff.brand_id).filter(pk=staff.pk).update(employee_no=number)
        return Staff.objects.for_brand(staff.brand_id).get(pk=staff.pk)


def _pin_event(event_id, employee_no="A01", ts=None, **payload):
    return {
        "type": "punch",
        "id": event_id,
        "ts": ts or _ts(),
        "payload": {"method": "pin", "employee_no": employee_no, "reason": "戴口罩", **payload},
    }


def _pin(device, event_id, pin, **kwargs):
    return kiosk.punch(
        brand_id=device.brand_id,
        device_id=device.pk,
        skew_ms=0,
        event=_pin_event(event_id, **kwargs),
        pin=pin,
    )[1]


def test_a_good_pin_punches_and_the_pin_is_not_stored(brand, brand_admin, store, guide):
    guide = _numbered(guide, "A02")
    set_pin(brand, guide, "246810")
    device = _device(brand, brand_admin, store)
    answer = _pin(device, "p1", "246810", employee_no="A02")
    assert answer.result == "ok" and answer.staff == guide and answer.punch
    (punch,) = _rows(Punch, brand)
    assert punch.source == "kiosk_pin" and punch.reason == "戴口罩" and not punch.face_checked
    (event,) = _rows(DeviceEvent, brand)
    assert "pin" not in event.payload and "246810" not in str(event.payload)
    assert event.payload["result"] == "ok"


def test_wrong_pins_lock_the_pin_for_15_minutes(brand, brand_admin, store, guide):
    guide = _numbered(guide, "A02")
    set_pin(brand, guide, "246810")
    device = _device(brand, brand_admin, store)
    results = [_pin(device, f"w{i}", "000000", employee_no="A02").result for i in range(5)]
    assert results == ["wrong_pin"] * 4 + ["locked"]
    assert _pin(device, "right", "246810", employee_no="A02").result == "locked"
    (row,) = _rows(StaffPin, brand)
    assert row.locked_until > datetime.now(UTC) + timedelta(minutes=14)
    assert _rows(Punch, brand) == []


@pytest.mark.parametrize(
    ("case", "result"),
    [
        ("unknown_no", "unknown_staff"),
        ("other_store", "unknown_staff"),
        ("no_pin", "no_pin"),
        ("card", "unknown_card"),
    ],
)
def test_pin_punches_that_name_no_one_here_are_refused(brand, brand_admin, store, case, result):
    elsewhere = StoreFactory(brand=brand, code="SH009", name="别处")
    StaffFactory(brand=brand, stores=[elsewhere], employee_no="B01")
    set_pin(brand, StaffFactory(brand=brand, stores=[elsewhere], employee_no="B02"), "1234")
    StaffFactory(brand=brand, stores=[store], employee_no="C01")
    device = _device(brand, brand_admin, store)
    event = {
        "unknown_no": _pin_event("x", "Z99"),
        "other_store": _pin_event("x", "B02"),
        "no_pin": _pin_event("x", "C01"),
        "card": {"type": "punch", "id": "x", "ts": _ts(), "payload": {"method": "card", "card": "9"}},
    }[case]
    _dev, answer = kiosk.punch(brand_id=brand.pk, device_id=device.pk, skew_ms=0, event=event, pin="1234")
    assert answer.result == result and not answer.punch and answer.payload("x", _dev)["message"]
    assert _rows(Punch, brand) == []


def test_a_late_offline_pin_punch_becomes_a_punch_and_the_day_is_recomputed(brand, brand_admin, store, guide):
    guide = _numbered(guide, "A02")
    set_pin(brand, guide, "246810")
    device = _device(brand, brand_admin, store)
    day = (datetime.now(SHANGHAI) - timedelta(days=2)).date()
    clock_out = datetime(day.year, day.month, day.day, 18, 0, tzinfo=SHANGHAI)
    clock_in = datetime(day.year, day.month, day.day, 9, 0, tzinfo=SHANGHAI)
    _pin(device, "live-out", "246810", employee_no="A02", ts=_ts(clock_out))
    (record,) = _rows(DayRecord, brand, staff=guide)
    assert record.first_in == clock_out
    batch = [
        _pin_event("off-in", "A02", ts=_ts(clock_in)),
        _pin_event("off-bad", "A02", ts=_ts(clock_in) + 1000),
    ]
    statuses = kiosk.handler.store_batch(
        device=device, skew_ms=0, events=batch, pins={"off-in": "246810", "off-bad": "111111"}
    )
    assert statuses == {"off-in": "stored", "off-bad": "stored"}
    punches = _rows(Punch, brand)
    assert len(punches) == 2
    offline = next(p for p in punches if p.offline)
    assert offline.occurred_at == clock_in and offline.source == "kiosk_pin"
    (record,) = _rows(DayRecord, brand, staff=guide)
    assert (record.first_in, record.last_out) == (clock_in, clock_out)
    # Sent again (the ack was lost): nothing is checked or recorded twice.
    again = kiosk.handler.store_batch(device=device, skew_ms=0, events=batch, pins={"off-bad": "111111"})
    assert again == {"off-in": "duplicate", "off-bad": "duplicate"}
    assert len(_rows(Punch, brand)) == 2 and _rows(StaffPin, brand)[0].failed_count == 1


# --- alerts -------------------------------------------------------------------------------------


def test_repeated_refusals_alert_the_store_managers_once(
    brand, brand_admin, store, store_manager, obama, settings, django_capture_on_commit_callbacks
):
    settings.ATTENDANCE_REFUSAL_ALERT = 3
    device = _device(brand, brand_admin, store)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(6):
            _identify(device, "biden.jpg", event_id=f"s{i}")
        _identify(device, "obama2.jpg", event_id="ok")
    notes = _rows(Notification, brand, kind="access_alert")
    assert [n.staff_id for n in notes] == [store_manager.pk]
    assert notes[0].data["refusals"] == 3 and notes[0].data["device_id"] == device.pk
    assert "3" in notes[0].message
    alerted = [e.event_id for e in _rows(DeviceEvent, brand) if e.payload.get("alerted")]
    assert alerted == ["s2"]
