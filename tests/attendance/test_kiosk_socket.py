"""The kiosk over the device websocket: an identify frame answered by identify_result (the face
analysed in the face pool), the door opened by open_door, PIN punches answered by punch_result with
the lock, an offline batch's PIN punches recorded, repeated refusals alerting once."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync

from attendance import gallery
from attendance.models import AccessRecord, Punch
from devices.models import DeviceCommand, DeviceEvent
from guides.models import Notification
from retail.tenancy import brand_scope
from tests.attendance.kiosk_helpers import enroll, set_pin
from tests.factories import StaffFactory
from tests.helpers.devices import Device as Sim
from tests.helpers.devices import make_device, now_ms
from tests.helpers.faces import FACES

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("in_memory_channel_layer"),
    pytest.mark.skipif(not FACES.is_dir(), reason="the face photos (../shared/faces) are not here"),
]


@pytest.fixture(autouse=True)
def _fresh_gallery(settings):
    settings.FACE_WORKERS = 0
    gallery.forget()
    yield
    gallery.forget()


@pytest.fixture
def obama(brand, brand_admin, store):
    person = StaffFactory(brand=brand, stores=[store], name="奥巴马", employee_no="A01")
    enroll(brand, brand_admin, person, "obama.jpg")
    set_pin(brand, person, "246810")
    return person


def _photo(name: str) -> str:
    return base64.b64encode((FACES / name).read_bytes()).decode()


def _rows(model, brand, **filters):
    with brand_scope(brand):
        return list(model.objects.for_brand(brand).filter(**filters))


async def _online(device, secret) -> Sim:
    d = Sim(str(device.uid), secret)
    await d.connect()
    await d.hello()
    return d


async def _until(d: Sim, kind: str, seen: list | None = None) -> dict:
    """The next frame of ``kind`` (others read on the way are kept in ``seen``)."""
    for _ in range(5):
        msg = await d.receive(timeout=30)
        if msg["type"] == kind:
            return msg
        if seen is not None:
            seen.append(msg)
    raise AssertionError(f"no {kind}")


def test_a_face_at_a_door_kiosk_is_named_punched_and_the_door_opens(brand, brand_admin, store, obama):
    device, secret = make_device(brand, brand_admin, store, kind="both")

    async def go():
        d = await _online(device, secret)
        await d.send("identify", {"image": _photo("obama2.jpg"), "format": "jpeg"}, id="face-1")
        seen: list = []
        result = await _until(d, "identify_result", seen)
        p = result["payload"]
        assert result["id"] == "face-1" and p["ref"] == "face-1"
        assert p["result"] == "granted" and p["staff"] == {"id": obama.pk, "name": "奥巴马"}
        assert p["punch"] is True and p["door_opened"] is True and p["message"] == "门已开，欢迎"
        assert p["time"].endswith("+08:00")
        door = next((m for m in seen if m["type"] == "open_door"), None) or await _until(d, "open_door")
        assert door["payload"]["seconds"] == 5
        await d.send("result", {"ref": door["id"], "ok": True})
        assert (await d.receive())["type"] == "ack"
        await d.comm.disconnect()

    async_to_sync(go)()
    (punch,) = _rows(Punch, brand)
    assert punch.staff_id == obama.pk and punch.source == "kiosk_face" and punch.device_id == device.pk
    (access,) = _rows(AccessRecord, brand)
    assert access.result == "granted" and access.punch_id == punch.pk
    (command,) = _rows(DeviceCommand, brand)
    assert command.name == "open_door" and command.status == "done"
    (event,) = _rows(DeviceEvent, brand)
    assert event.type == "identify" and "image" not in event.payload and event.payload["result"] == "granted"


@pytest.mark.parametrize(
    ("photo", "result"), [("biden.jpg", "unknown"), ("obama_and_biden.jpg", "bad_frame")]
)
def test_a_stranger_or_a_crowd_is_refused_at_the_kiosk(brand, brand_admin, store, obama, photo, result):
    device, secret = make_device(brand, brand_admin, store, kind="clock_in")

    async def go():
        d = await _online(device, secret)
        await d.send("identify", {"image": _photo(photo), "format": "jpeg"}, id="face-1")
        p = (await _until(d, "identify_result"))["payload"]
        assert p["result"] == result and p["staff"] is None and not p["punch"] and not p["door_opened"]
        assert p["message"]
        await d.comm.disconnect()

    async_to_sync(go)()
    assert _rows(Punch, brand) == [] and _rows(AccessRecord, brand)[0].result == result


def test_a_clock_in_kiosk_does_not_open_a_door(brand, brand_admin, store, obama):
    device, secret = make_device(brand, brand_admin, store, kind="clock_in")

    async def go():
        d = await _online(device, secret)
        await d.send("identify", {"image": _photo("obama_small.jpg"), "format": "jpeg"}, id="f")
        p = (await _until(d, "identify_result"))["payload"]
        assert p["result"] == "punched" and p["door_opened"] is False and p["message"] == "打卡成功"
        await d.comm.disconnect()

    async_to_sync(go)()
    assert _rows(DeviceCommand, brand) == []


def test_pin_punches_are_checked_and_locked_after_five_failures(brand, brand_admin, store, obama):
    device, secret = make_device(brand, brand_admin, store)

    async def go():
        d = await _online(device, secret)
        answers = []
        for i in range(5):
            await d.send("punch", {"method": "pin", "employee_no": "A01", "pin": "1111"}, id=f"w{i}")
            answers.append((await _until(d, "punch_result"))["payload"])
        assert [a["result"] for a in answers] == ["wrong_pin"] * 4 + ["locked"]
        assert answers[0]["message"] == "打卡密码错误。" and answers[0]["staff"] is None
        await d.send("punch", {"method": "pin", "employee_no": "A01", "pin": "246810"}, id="right")
        assert (await _until(d, "punch_result"))["payload"]["result"] == "locked"
        await d.comm.disconnect()

    async_to_sync(go)()
    assert _rows(Punch, brand) == []


def test_a_good_pin_punch_is_answered_with_the_name(brand, brand_admin, store, obama):
    device, secret = make_device(brand, brand_admin, store)

    async def go():
        d = await _online(device, secret)
        payload = {"method": "pin", "employee_no": "A01", "pin": "246810", "reason": "戴口罩"}
        await d.send("punch", payload, id="p1")
        p = (await _until(d, "punch_result"))["payload"]
        assert p["result"] == "ok" and p["staff"]["name"] == "奥巴马" and p["punch"] is True
        assert p["status"] == "stored"
        await d.send("punch", payload, id="p1")  # sent again: the same answer, one punch
        again = (await _until(d, "punch_result"))["payload"]
        assert (again["result"], again["status"], again["staff"]) == ("ok", "duplicate", p["staff"])
        await d.comm.disconnect()

    async_to_sync(go)()
    (punch,) = _rows(Punch, brand)
    assert punch.source == "kiosk_pin" and punch.reason == "戴口罩" and not punch.offline


def test_an_offline_batch_pin_punch_becomes_an_offline_punch(brand, brand_admin, store, obama):
    device, secret = make_device(brand, brand_admin, store)
    earlier = now_ms() - 3 * 3600 * 1000
    batch = [
        {
            "type": "punch",
            "id": "off-1",
            "ts": earlier,
            "payload": {"method": "pin", "employee_no": "A01", "pin": "246810"},
        },
        {
            "type": "punch",
            "id": "off-2",
            "ts": earlier + 1,
            "payload": {"method": "pin", "employee_no": "A01", "pin": "0000"},
        },
    ]

    async def go():
        d = await _online(device, secret)
        await d.send("event_batch", {"events": batch}, id="b1")
        ack = (await _until(d, "ack"))["payload"]
        assert sorted(ack["stored"]) == ["off-1", "off-2"]
        await d.comm.disconnect()

    async_to_sync(go)()
    (punch,) = _rows(Punch, brand)
    assert punch.offline and punch.source == "kiosk_pin"
    assert abs(punch.occurred_at - datetime.fromtimestamp(earlier / 1000, tz=UTC)) < timedelta(seconds=2)
    events = {e.event_id: e.payload for e in _rows(DeviceEvent, brand)}
    assert events["off-1"]["result"] == "ok" and events["off-2"]["result"] == "wrong_pin"
    assert all("pin" not in p for p in events.values())


def test_repeated_refusals_at_a_device_alert_its_managers_once(
    brand, brand_admin, store, store_manager, obama, settings
):
    settings.ATTENDANCE_REFUSAL_ALERT = 3
    device, secret = make_device(brand, brand_admin, store)

    async def go():
        d = await _online(device, secret)
        for i in range(5):
            await d.send("identify", {"image": _photo("biden2.jpg"), "format": "jpeg"}, id=f"s{i}")
            assert (await _until(d, "identify_result"))["payload"]["result"] == "unknown"
        await d.comm.disconnect()

    async_to_sync(go)()
    notes = _rows(Notification, brand, kind="access_alert")
    assert [n.staff_id for n in notes] == [store_manager.pk]
    assert "3" in notes[0].message and store.name in notes[0].message
