"""The device websocket: authentication, one live connection, events once, commands, bad frames."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from devices import services
from devices.models import Device, DeviceCommand, DeviceEvent
from retail.asgi import application
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.factories import StaffFactory
from tests.helpers.devices import Device as Sim
from tests.helpers.devices import frame, make_device, now_ms

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_memory_channel_layer")]


@pytest.fixture(autouse=True)
def _device_layer_alone(settings):
    """The device layer by itself: events are only stored (no DEVICE_EVENT_HANDLER). The kiosk's
    handler is tested in tests/attendance/test_kiosk*.py; its contract at the end of this file."""
    settings.DEVICE_EVENT_HANDLER = None


@pytest.fixture
def paired(brand, brand_admin, store):
    device, secret = make_device(brand, brand_admin, store)
    return device, secret


def fixed_frame(kind: str, payload: dict | None = None) -> str:
    """A frame with a fixed id and time: test parameters must be the same in every test process."""
    return frame(kind, payload, id=f"{kind}-1", ts=1_700_000_000_000)


def run(coro_fn):
    async_to_sync(coro_fn)()


def _reload(device) -> Device:
    with brand_scope(device.brand_id):
        return Device.objects.for_brand(device.brand_id).get(pk=device.pk)


def _events(device) -> list[DeviceEvent]:
    with brand_scope(device.brand_id):
        return list(DeviceEvent.objects.for_brand(device.brand_id).filter(device=device).order_by("event_id"))


# --- authentication ----------------------------------------------------------------------------


def test_welcome_describes_the_device_and_marks_it_online(paired, store):
    device, secret = paired

    async def go():
        d = Sim(str(device.uid), secret, headers=[(b"origin", b"http://evil.example")])
        challenge = await d.connect()
        assert challenge["payload"]["versions"] == [1]
        welcome = await d.hello(ts=now_ms() + 5000)
        assert welcome["type"] == "welcome"
        p = welcome["payload"]
        assert p["device"] == str(device.uid)
        assert p["store"]["id"] == store.pk and p["store"]["name"] == store.name
        assert p["config"]["door_open_seconds"] == 5
        assert 4000 <= p["skew_ms"] <= 6000
        await d.comm.disconnect()

    run(go)
    d = _reload(device)
    assert d.status == Device.Status.OFFLINE and d.connection == ""
    assert 4000 <= d.clock_skew_ms <= 6000
    assert d.app_version == "test" and d.protocol_version == 1


def test_online_while_connected(paired):
    device, secret = paired

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        from channels.db import database_sync_to_async

        row = await database_sync_to_async(_reload)(device)
        assert row.status == Device.Status.ONLINE and row.connection
        await d.comm.disconnect()

    run(go)


@pytest.mark.parametrize(
    "case",
    ["wrong_signature", "unknown_device", "malformed_uid", "replayed_hello", "unpaired", "other_secret"],
)
def test_authentication_failures_close_4401(case, brand, brand_admin, store):
    device, secret = make_device(brand, brand_admin, store)
    other, other_secret = make_device(brand, brand_admin, store, name="另一台")
    if case == "unpaired":
        services.device_rotate(brand=brand, manager=brand_admin, actor=Actor.system(), device=device)

    async def go():
        uid = str(device.uid)
        d = Sim(uid, secret)
        if case == "replayed_hello":
            first = Sim(uid, secret)
            await first.connect()
            captured = first.hello_frame()
            await first.comm.disconnect()
            await d.connect()
            await d.comm.send_to(text_data=captured)  # signed over another connection's nonce
        else:
            await d.connect()
            if case == "wrong_signature":
                await d.comm.send_to(text_data=d.hello_frame(signature="0" * 64))
            elif case == "unknown_device":
                d.uid = "5b0c7a2e-1111-4222-8333-444455556666"
                await d.comm.send_to(text_data=d.hello_frame())
            elif case == "malformed_uid":
                d.uid = "not-a-uuid"
                await d.comm.send_to(text_data=d.hello_frame())
            elif case == "other_secret":
                d.secret = other_secret
                await d.comm.send_to(text_data=d.hello_frame())
            else:
                await d.comm.send_to(text_data=d.hello_frame())
        error = await d.receive()
        assert error["type"] == "error"
        assert error["payload"]["code"] in ("auth_failed", "invalid")
        assert await d.closed() in (4401, 4400)

    run(go)
    assert _reload(device).status != Device.Status.ONLINE


def test_disabled_device_is_refused_with_4403(paired, brand, brand_admin):
    device, secret = paired
    services.device_disable(brand=brand, manager=brand_admin, actor=Actor.system(), device=device)

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        error = await d.hello()
        assert error["payload"]["code"] == "disabled"
        assert await d.closed() == 4403

    run(go)


def test_unsupported_version_is_refused_with_4426(paired):
    device, secret = paired

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        error = await d.hello(version=2)
        assert error["payload"]["code"] == "unsupported_version"
        assert await d.closed() == 4426

    run(go)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps([1, 2]),
        fixed_frame("heartbeat"),  # before hello: out of order
        fixed_frame("hello", {"version": 1}),  # hello without device or auth
        json.dumps({"type": "hello", "id": "x", "ts": 1, "payload": {}, "extra": 1}),
        None,  # a binary frame
    ],
)
def test_anything_but_a_good_hello_first_closes_4400(paired, text):
    async def go():
        d = Sim()
        await d.connect()
        if text is None:
            await d.comm.send_to(bytes_data=b"\x00\x01")
        else:
            await d.comm.send_to(text_data=text)
        error = await d.receive()
        assert error["type"] == "error"
        assert await d.closed() == 4400

    run(go)


def test_no_hello_in_time_closes_4408(settings):
    settings.DEVICE_AUTH_TIMEOUT_SECONDS = 0.2

    async def go():
        d = Sim()
        await d.connect()
        assert await d.closed() == 4408

    run(go)


def test_ticket_authenticates_once(paired):
    device, secret = paired
    ticket = services.ticket_issue(device_uid=str(device.uid), secret=secret)

    async def go():
        d = Sim(str(device.uid))
        await d.connect()
        assert (await d.hello(ticket=ticket))["type"] == "welcome"
        await d.comm.disconnect()
        again = Sim(str(device.uid))
        await again.connect()
        assert (await again.hello(ticket=ticket))["payload"]["code"] == "auth_failed"
        assert await again.closed() == 4401

    run(go)


def test_ticket_of_another_device_is_refused(brand, brand_admin, store):
    device, secret = make_device(brand, brand_admin, store)
    other, other_secret = make_device(brand, brand_admin, store, name="另一台")
    ticket = services.ticket_issue(device_uid=str(other.uid), secret=other_secret)

    async def go():
        d = Sim(str(device.uid))
        await d.connect()
        assert (await d.hello(ticket=ticket))["payload"]["code"] == "auth_failed"
        assert await d.closed() == 4401

    run(go)


def test_expired_ticket_is_refused(paired, settings):
    device, secret = paired
    settings.DEVICE_TICKET_SECONDS = -1
    ticket = services.ticket_issue(device_uid=str(device.uid), secret=secret)

    async def go():
        d = Sim(str(device.uid))
        await d.connect()
        assert (await d.hello(ticket=ticket))["payload"]["code"] == "auth_failed"
        assert await d.closed() == 4401

    run(go)


# --- one live connection ---------------------------------------------------------------------


def test_a_second_connection_replaces_the_first(paired):
    device, secret = paired

    async def go():
        first = Sim(str(device.uid), secret)
        await first.connect()
        await first.hello()
        second = Sim(str(device.uid), secret)
        await second.connect()
        assert (await second.hello())["type"] == "welcome"
        assert await first.closed() == 4409
        from channels.db import database_sync_to_async

        row = await database_sync_to_async(_reload)(device)
        assert row.status == Device.Status.ONLINE  # the replaced socket's close did not mark it offline
        await second.send("heartbeat", {}, id="hb")
        assert (await second.receive())["payload"]["ref"] == "hb"
        await second.comm.disconnect()

    run(go)


@pytest.mark.parametrize("action", ["disable", "rotate", "pair_again"])
def test_disabling_or_rotating_drops_the_live_connection(paired, brand, brand_admin, action):
    device, secret = paired

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        from channels.db import database_sync_to_async

        def act():
            current = _reload(device)
            if action == "disable":
                services.device_disable(
                    brand=brand, manager=brand_admin, actor=Actor.system(), device=current
                )
            elif action == "rotate":
                services.device_rotate(brand=brand, manager=brand_admin, actor=Actor.system(), device=current)
            else:
                code = services.pairing_code_issue(
                    brand=brand, manager=brand_admin, actor=Actor.system(), device=current
                )
                services.device_pair(code=code)

        await database_sync_to_async(act)()
        assert await d.closed() == 4403
        # The old secret no longer works (disabled: refused as disabled).
        again = Sim(str(device.uid), secret)
        await again.connect()
        code = (await again.hello())["payload"]["code"]
        assert code == ("disabled" if action == "disable" else "auth_failed")

    run(go)


# --- events, replay, time ------------------------------------------------------------------------


def test_events_are_acknowledged_and_stored_once(paired):
    device, secret = paired

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        for kind, payload in [
            ("punch", {"method": "pin", "employee_no": "A01", "pin": "123456", "reason": "口罩"}),
            ("door_opened", {"method": "button"}),
            ("door_forced", {"detail": "门被撬开"}),
            ("tamper", {"detail": "外壳打开"}),
            ("error", {"code": "camera", "message": "camera unplugged"}),
        ]:
            await d.send(kind, payload, id=f"e-{kind}")
            ack = await d.receive()
            assert ack["type"] == "ack" and ack["payload"] == {"ref": f"e-{kind}", "status": "stored"}
        await d.send("punch", {"method": "card", "card": "0001"}, id="e-punch")
        assert (await d.receive())["payload"]["status"] == "duplicate"
        await d.comm.disconnect()

    run(go)
    events = _events(device)
    assert [e.event_id for e in events] == [
        "e-door_forced",
        "e-door_opened",
        "e-error",
        "e-punch",
        "e-tamper",
    ]
    punch = next(e for e in events if e.type == "punch")
    assert "pin" not in punch.payload and punch.payload["pin_given"] is True  # a PIN is never stored
    assert punch.payload["method"] == "pin"  # the duplicate did not overwrite the first


def test_identify_frame_keeps_no_image(paired):
    device, secret = paired
    image = base64.b64encode(_noise_jpeg(600, 500)).decode()  # over 256 KiB, under 1 MiB
    assert 256 * 1024 < len(image) < 1024 * 1024

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        await d.send("identify", {"image": image, "format": "jpeg"}, id="frame-1")
        ack = await d.receive()
        assert ack["payload"] == {"ref": "frame-1", "status": "stored"}
        await d.comm.disconnect()

    run(go)
    (event,) = _events(device)
    assert event.type == "identify" and "image" not in event.payload
    assert event.payload["bytes"] > 190 * 1024
    assert (event.payload["width"], event.payload["height"]) == (600, 500)


def _noise_jpeg(width: int, height: int, fmt: str = "JPEG") -> bytes:
    """A photo-sized frame that does not compress well."""
    import io
    import os

    from PIL import Image

    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    img.save(out, fmt, quality=95)
    return out.getvalue()


@pytest.mark.parametrize(
    ("image", "fmt", "why"),
    [
        ("not base64 at all!", "jpeg", "base64"),
        (base64.b64encode(b"GIF89a" + b"0" * 100).decode(), "jpeg", "JPEG or PNG"),
        (base64.b64encode(b"\xff\xd8\xff" + b"\x00" * 50).decode(), "jpeg", ""),
        ("", "jpeg", "empty"),
        ("PNG", "png", "base64"),
    ],
)
def test_identify_frames_that_are_not_images_are_refused(paired, image, fmt, why):
    device, secret = paired

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        await d.send("identify", {"image": image, "format": fmt}, id="bad-frame")
        error = await d.receive()
        assert error["payload"]["code"] == "invalid" and error["payload"]["ref"] == "bad-frame"
        assert why in error["payload"]["fields"]["payload.image"]
        await d.comm.disconnect()

    run(go)
    assert _events(device) == []


def test_identify_format_must_match_the_image(paired):
    device, secret = paired
    png = base64.b64encode(_noise_jpeg(64, 64, "PNG")).decode()

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        await d.send("identify", {"image": png, "format": "jpeg"}, id="f1")
        assert "not a JPEG" in (await d.receive())["payload"]["fields"]["payload.image"]
        await d.send("identify", {"image": png, "format": "png"}, id="f2")
        assert (await d.receive())["payload"] == {"ref": "f2", "status": "stored"}
        await d.comm.disconnect()

    run(go)


def test_offline_replay_stores_each_event_once_with_its_original_time(paired):
    device, secret = paired
    base = now_ms() - 3 * 3600 * 1000  # three hours ago, while offline
    batch = [
        {
            "type": "punch",
            "id": f"off-{i}",
            "ts": base + i * 60_000,
            "payload": {"method": "card", "card": "42"},
        }
        for i in range(150)
    ]

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        await d.send("event_batch", {"events": batch[:100]}, id="b1")
        ack = (await d.receive())["payload"]
        assert len(ack["stored"]) == 100 and ack["duplicate"] == []
        await d.comm.disconnect()
        # The connection dropped before the device saw the ack: it sends everything again.
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        await d.send("event_batch", {"events": batch}, id="b2")
        ack = (await d.receive())["payload"]
        assert len(ack["stored"]) == 50 and len(ack["duplicate"]) == 100
        await d.comm.disconnect()

    run(go)
    events = _events(device)
    assert len(events) == 150
    first = next(e for e in events if e.event_id == "off-0")
    assert first.offline is True
    assert abs(first.device_time.timestamp() * 1000 - base) < 1


def test_event_times_are_corrected_by_the_measured_skew(paired):
    device, secret = paired
    skew = 120_000  # the device clock runs two minutes fast

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello(ts=now_ms() + skew)
        ts = now_ms() + skew
        await d.send("punch", {"method": "card", "card": "1"}, id="p", ts=ts)
        await d.receive()
        await d.comm.disconnect()
        return ts

    ts = async_to_sync(go)()
    (event,) = _events(device)
    corrected = (event.device_time - event.occurred_at).total_seconds() * 1000
    assert abs(corrected - skew) < 2000
    assert abs(event.device_time.timestamp() * 1000 - ts) < 1


def test_events_too_old_or_in_the_future_are_rejected(paired):
    device, secret = paired

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        await d.send("punch", {"method": "card"}, id="future", ts=now_ms() + 3600_000)
        error = await d.receive()
        assert error["payload"]["code"] == "bad_time" and error["payload"]["ref"] == "future"
        old = now_ms() - int(timedelta(days=40).total_seconds() * 1000)
        batch = [
            {"type": "punch", "id": "old", "ts": old, "payload": {"method": "card"}},
            {"type": "punch", "id": "fine", "ts": now_ms() - 1000, "payload": {"method": "card"}},
        ]
        await d.send("event_batch", {"events": batch}, id="b")
        ack = (await d.receive())["payload"]
        assert ack["stored"] == ["fine"] and ack["rejected"] == [{"id": "old", "code": "bad_time"}]
        await d.comm.disconnect()

    run(go)
    assert [e.event_id for e in _events(device)] == ["fine"]


# --- bad frames after authentication -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{oops", "bad_json"),
        ("[1, 2]", "bad_frame"),
        ('"text"', "bad_frame"),
        ("9" * 100, "bad_frame"),
        ("9" * 5000, "bad_json"),  # past Python's limit of digits in an integer
        ("[" * 100_000, "bad_json"),
        (fixed_frame("launch_missiles"), "unknown_type"),
        (fixed_frame("ack", {"ref": "x", "status": "ok"}), "unknown_type"),  # a server message from a device
        (fixed_frame("punch", {"method": "retina"}), "invalid"),
        (fixed_frame("punch", {"method": "pin", "pin": "12"}), "invalid"),
        (fixed_frame("punch", {"method": "card", "staff": "1; DROP TABLE"}), "invalid"),
        (fixed_frame("punch", {"method": "card", "staff": 2**70}), "invalid"),
        (json.dumps({"type": "punch", "id": "x" * 65, "ts": 1, "payload": {"method": "card"}}), "invalid"),
        (json.dumps({"type": "punch", "id": "a", "ts": -5, "payload": {"method": "card"}}), "invalid"),
        (json.dumps({"type": "punch", "id": "a", "ts": "now", "payload": {"method": "card"}}), "invalid"),
        (json.dumps({"type": "punch", "id": "a", "ts": 1}), "invalid"),
        (fixed_frame("hello", {"version": 1, "device": "x", "auth": {}}), "invalid"),
        (fixed_frame("event_batch", {"events": []}), "invalid"),
        (fixed_frame("tamper", {"detail": "a\u0000b"}), "invalid"),
        (
            fixed_frame(
                "event_batch", {"events": [{"type": "heartbeat", "id": "h", "ts": 1, "payload": {}}]}
            ),
            "invalid",
        ),
        (
            fixed_frame("result", {"ref": "5b0c7a2e-1111-4222-8333-444455556666", "ok": True}),
            "unknown_command",
        ),
        (fixed_frame("door_forced", {"detail": "x" * 300_000}), "too_large"),
        ("x" * (1024 * 1024 + 1), "too_large"),
        (None, "bad_frame"),
    ],
)
def test_bad_frames_get_an_error_and_the_connection_stays(paired, text, code):
    device, secret = paired

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        if text is None:
            await d.comm.send_to(bytes_data=b"\x89PNG")
        else:
            await d.comm.send_to(text_data=text)
        error = await d.receive()
        assert error["type"] == "error" and error["payload"]["code"] == code, error
        await d.send("heartbeat", {}, id="still-here")
        assert (await d.receive())["payload"]["ref"] == "still-here"
        await d.comm.disconnect()

    run(go)
    assert _events(device) == []


def test_hello_twice_is_out_of_order(paired):
    device, secret = paired

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        error = await d.hello()
        assert error["payload"]["code"] == "out_of_order"
        await d.comm.disconnect()

    run(go)


def test_rate_limit_answers_then_closes_4429(paired, settings):
    device, secret = paired
    settings.DEVICE_RATE_BURST = 5
    settings.DEVICE_RATE_PER_SECOND = 0.01

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()  # a little over 1 token (frames cost 1 + their share of 256 KiB)
        codes = []
        for i in range(3):
            await d.send("heartbeat", {}, id=f"h{i}")
            codes.append((await d.receive())["type"])
        assert codes == ["ack", "ack", "ack"]
        await d.send("heartbeat", {}, id="over")
        assert (await d.receive())["payload"]["code"] == "rate_limited"
        for i in range(10):
            await d.send("heartbeat", {}, id=f"more{i}")
        assert await d.closed() == 4429

    run(go)


def test_silent_device_is_closed_after_three_heartbeat_intervals(paired, settings):
    device, secret = paired
    settings.DEVICE_HEARTBEAT_SECONDS = 1

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        welcome = await d.hello()
        assert welcome["payload"]["heartbeat_interval"] == 1
        assert await d.closed(timeout=6) == 4408
        await d.comm.disconnect()  # the server's close is answered, as a real socket does

    run(go)
    assert _reload(device).status == Device.Status.OFFLINE


# --- commands and fetches ------------------------------------------------------------------------


def test_commands_reach_the_device_and_results_are_recorded(paired, brand, brand_admin):
    device, secret = paired

    async def go():
        from channels.db import database_sync_to_async

        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        command = await database_sync_to_async(services.door_open_remote)(
            brand=brand, manager=brand_admin, actor=Actor.system(), device=_reload(device), reason="送货"
        )
        received = await d.receive()
        assert received["type"] == "open_door" and received["id"] == str(command.uid)
        assert received["payload"] == {"seconds": 5, "reason": "送货"}
        await d.send("result", {"ref": str(command.uid), "ok": True}, id="r1")
        assert (await d.receive())["payload"] == {"ref": "r1", "status": "ok"}
        # The same result again names no waiting command.
        await d.send("result", {"ref": str(command.uid), "ok": True}, id="r2")
        assert (await d.receive())["payload"]["code"] == "unknown_command"
        await d.comm.disconnect()
        return command

    command = async_to_sync(go)()
    with brand_scope(brand):
        command = DeviceCommand.objects.for_brand(brand).get(pk=command.pk)
    assert command.status == DeviceCommand.Status.DONE and command.done_at


def test_settings_change_reaches_a_connected_device(paired, brand, brand_admin):
    device, secret = paired

    async def go():
        from channels.db import database_sync_to_async

        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        await database_sync_to_async(services.device_update)(
            brand=brand,
            manager=brand_admin,
            actor=Actor.system(),
            device=_reload(device),
            data={"config": {"volume": 20}},
        )
        received = await d.receive()
        assert received["type"] == "reload_config"
        assert received["payload"]["config"]["volume"] == 20 and received["payload"]["config_version"] == 2
        await d.send("fetch", {"what": "config"}, id="f")
        reply = await d.receive()
        assert reply["type"] == "config" and reply["payload"]["config_version"] == 2
        await d.comm.disconnect()

    run(go)


def test_fetch_staff_lists_the_active_people_of_the_store_only(paired, brand, store, other_store):
    device, secret = paired
    here = StaffFactory(brand=brand, stores=[store], name="王丽", status="active")
    StaffFactory(brand=brand, stores=[store], name="离职的人", status="left", left_on=date.today())

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        welcome = await d.hello()
        await d.send("fetch", {"what": "staff"}, id="f")
        reply = await d.receive()
        assert reply["type"] == "staff_list"
        assert reply["payload"]["version"] == welcome["payload"]["staff_version"]
        await d.comm.disconnect()
        return reply["payload"]["staff"]

    staff = async_to_sync(go)()
    names = {s["name"] for s in staff}
    assert "王丽" in names and "离职的人" not in names
    assert all(set(s) == {"id", "name", "employee_no"} for s in staff)
    assert here.pk in {s["id"] for s in staff}


def test_a_command_to_an_offline_device_is_refused(paired, brand, brand_admin):
    device, _ = paired
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as err:
        services.door_open_remote(brand=brand, manager=brand_admin, actor=Actor.system(), device=device)
    assert err.value.code == "device_offline"
    with brand_scope(brand):
        assert not DeviceCommand.objects.for_brand(brand).exists()


def test_device_route_needs_no_origin_but_the_staff_socket_still_does(paired):
    async def go():
        comm = WebsocketCommunicator(application, "/ws/staff/", headers=[(b"origin", b"http://evil.example")])
        connected, _ = await comm.connect()
        assert not connected

    run(go)


def test_a_server_fault_is_reported_and_the_socket_closed_1011(paired, monkeypatch):
    device, secret = paired
    from django.db import OperationalError

    def broken(**kwargs):
        raise OperationalError("the database went away")

    monkeypatch.setattr(services, "events_store", broken)

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        await d.send("punch", {"method": "card"}, id="lost")
        error = await d.receive()
        assert error["payload"]["code"] == "server_error"
        assert await d.closed() == 1011
        await d.comm.disconnect()

    run(go)
    assert _events(device) == []
    assert _reload(device).status == Device.Status.OFFLINE


# --- the event handler hook (settings.DEVICE_EVENT_HANDLER) ---------------------------------------


class RecordingHandler:
    """A handler as attendance's: answers live identify and punch frames, stores batches."""

    def __init__(self):
        self.live_calls, self.batches = [], []

    async def live(self, *, device, skew_ms, event, pin=None, image=None):
        self.live_calls.append((event["type"], event["payload"], pin, image[:2] if image else None))
        if event["type"] == "punch" and event["payload"].get("method") == "card":
            return None  # not answered: stored and acknowledged as usual
        kind = "identify_result" if event["type"] == "identify" else "punch_result"
        payload = {"ref": event["id"], "result": "unknown" if kind == "identify_result" else "wrong_pin"}
        payload.update(
            staff=None, time="2026-12-07T09:00:00+08:00", punch=False, message="x", status="stored"
        )
        if kind == "identify_result":
            payload["door_opened"] = False
        return kind, payload

    def store_batch(self, *, device, skew_ms, events, pins):
        self.batches.append(([e["payload"] for e in events], pins))
        return services.events_store(
            brand_id=device.brand_id, device_id=device.pk, skew_ms=skew_ms, events_in=events, offline=True
        )


def test_the_event_handler_answers_live_frames_and_stores_batches(paired, settings, monkeypatch):
    from devices import consumers

    device, secret = paired
    handler = RecordingHandler()
    monkeypatch.setitem(consumers._handlers, "tests.handler", handler)
    settings.DEVICE_EVENT_HANDLER = "tests.handler"
    png = base64.b64encode(_noise_jpeg(64, 64, "PNG")).decode()

    async def go():
        d = Sim(str(device.uid), secret)
        await d.connect()
        await d.hello()
        await d.send("identify", {"image": png, "format": "png"}, id="f1")
        answer = await d.receive()
        assert answer["type"] == "identify_result" and answer["payload"]["ref"] == "f1"
        await d.send("punch", {"method": "pin", "employee_no": "A1", "pin": "1234"}, id="p1")
        assert (await d.receive())["type"] == "punch_result"
        await d.send("punch", {"method": "card", "card": "7"}, id="c1")
        assert (await d.receive())["payload"] == {"ref": "c1", "status": "stored"}
        batch = [
            {"type": "punch", "id": "o1", "ts": now_ms() - 1000, "payload": {"method": "pin", "pin": "9999"}}
        ]
        await d.send("event_batch", {"events": batch}, id="b1")
        assert (await d.receive())["payload"]["stored"] == ["o1"]
        await d.comm.disconnect()

    run(go)
    kinds = [(k, pin) for k, _p, pin, _i in handler.live_calls]
    assert kinds == [("identify", None), ("punch", "1234"), ("punch", None)]
    identify_payload, image_head = handler.live_calls[0][1], handler.live_calls[0][3]
    assert "image" not in identify_payload and image_head == b"\x89P"  # the decoded bytes, apart
    assert "pin" not in handler.live_calls[1][1]  # the PIN comes apart, never in the event
    (payloads, pins) = handler.batches[0]
    assert pins == {"o1": "9999"} and "pin" not in payloads[0]
    assert [e.event_id for e in _events(device)] == ["c1", "o1"]  # the handler stored the rest itself
