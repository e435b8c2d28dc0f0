"""Cross-tenant probe of the device websocket routes (retail.routing.device_websocket_urlpatterns(),
every route walked) and of the device HTTP calls: a device proves itself in its first frame, and
nothing one brand's device holds opens anything of another brand's.

Probed on every device route: brand B's device uid with a signature made with another secret; a
ticket of B's device presented with A's uid; a real device's uid with a wrong secret. Over HTTP: B's
pairing code sent with A's session, B's uid with A's secret. And a device of A, authenticated,
never receives B's commands, cannot answer them, and fetches only its own store's staff."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from devices import services
from devices.models import Device, DeviceCommand, DeviceTicket
from retail.asgi import application
from retail.events import Actor
from retail.models import Staff
from retail.routing import device_websocket_urlpatterns
from retail.tenancy import brand_owned_models, brand_scope, rls_bypass
from tests.factories import StaffFactory, StoreFactory
from tests.helpers.auth import login_as
from tests.helpers.devices import frame, make_device, now_ms

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_memory_channel_layer")]


MARKER = "ZZ机密B"


def device_routes() -> list[str]:
    return ["/" + str(p.pattern).lstrip("^").rstrip("$") for p in device_websocket_urlpatterns()]


class Socket:
    """A device's side of a device route (tests.helpers.devices.Device, for any path)."""

    def __init__(self, path: str):
        self.comm = WebsocketCommunicator(application, path)
        self.nonce = ""

    async def open(self) -> None:
        connected, _ = await self.comm.connect()
        assert connected
        challenge = await self.receive()
        assert challenge["type"] == "challenge"
        self.nonce = challenge["payload"]["nonce"]

    async def hello(self, uid: str, *, secret: str = "", ticket: str | None = None) -> dict:
        ts = now_ms()
        if ticket is not None:
            auth = {"method": "ticket", "ticket": ticket}
        else:
            sig = services.hello_signature(secret=secret, nonce=self.nonce, device_uid=uid, ts=ts)
            auth = {"method": "hmac", "signature": sig}
        await self.comm.send_to(text_data=frame("hello", {"version": 1, "device": uid, "auth": auth}, ts=ts))
        return await self.receive()

    async def receive(self, timeout: float = 3) -> dict:
        msg = await self.comm.receive_output(timeout)
        if msg["type"] == "websocket.close":
            return {"type": "__closed__", "code": msg.get("code")}
        return json.loads(msg["text"])

    async def refused(self, uid: str, **auth) -> int:
        """Say hello; the error frame must be auth_failed, then the close code."""
        error = await self.hello(uid, **auth)
        assert error["type"] == "error" and error["payload"]["code"] == "auth_failed", error
        assert MARKER not in json.dumps(error, ensure_ascii=False)
        closed = await self.receive()
        assert closed["type"] == "__closed__", closed
        return closed["code"]


@pytest.fixture
def two_brands(brand, brand_admin, store, other_brand, other_admin, other_store):
    """A paired device of each brand, brand B's with secret names and a live ticket."""
    StaffFactory(brand=other_brand, role=Staff.Role.GUIDE, stores=[other_store], name=f"{MARKER}导购")
    StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="王芳")
    ours, our_secret = make_device(brand, brand_admin, store, name="A考勤机")
    theirs, their_secret = make_device(other_brand, other_admin, other_store, name=f"{MARKER}考勤机")
    their_ticket = services.ticket_issue(device_uid=str(theirs.uid), secret=their_secret)
    return {
        "ours": ours,
        "our_secret": our_secret,
        "theirs": theirs,
        "their_secret": their_secret,
        "their_ticket": their_ticket,
        "b": other_brand,
    }


def _snapshot(brand):
    with rls_bypass(reason="isolation test snapshot"):
        return {
            m.__name__: sorted(
                tuple(sorted((k, str(v)) for k, v in row.items()))
                for row in m.unscoped.filter(brand=brand).values()
            )
            for m in brand_owned_models()
        }


def test_there_is_a_device_route_to_walk():
    assert "/ws/device/" in device_routes()


@pytest.mark.parametrize("path", device_routes())
def test_no_credential_of_one_brand_opens_a_device_of_another(path, two_brands):
    w = two_brands
    before = _snapshot(w["b"])

    async def run():
        # B's device uid, signed with a secret that is not B's device's (A's, or made up).
        for secret in (w["our_secret"], "x" * 43):
            s = Socket(path)
            await s.open()
            assert await s.refused(str(w["theirs"].uid), secret=secret) == 4401
        # A ticket of B's device presented with A's device uid.
        s = Socket(path)
        await s.open()
        assert await s.refused(str(w["ours"].uid), ticket=w["their_ticket"]) == 4401
        # A real device's uid with a wrong secret.
        s = Socket(path)
        await s.open()
        assert await s.refused(str(w["ours"].uid), secret="wrong-" + w["our_secret"][6:]) == 4401

    async_to_sync(run)()
    assert _snapshot(w["b"]) == before  # B's ticket still unused, B's device still offline
    with brand_scope(w["b"]):
        assert DeviceTicket.objects.get().used_at is None
        assert Device.objects.get().connection == ""


def test_device_http_calls_name_their_own_brand_only(client, brand, brand_admin, two_brands, other_admin):
    """The pairing and ticket calls ignore any session: a code or secret names its brand alone."""
    w = two_brands
    login_as(client, brand_admin)
    used = client.post(
        "/api/v1/devices/ticket/",
        {"device": str(w["theirs"].uid), "secret": w["our_secret"]},
        content_type="application/json",
    )
    assert used.status_code == 401 and MARKER not in used.content.decode()
    code = services.pairing_code_issue(
        brand=w["b"], manager=other_admin, actor=Actor.system(), device=w["theirs"]
    )
    with brand_scope(brand):
        ours_before = list(Device.objects.values())
    resp = client.post("/api/v1/devices/pair/", {"code": code}, content_type="application/json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["brand"]["id"] == w["b"].pk and body["device"] == str(w["theirs"].uid)  # B's, not A's
    with brand_scope(brand):
        assert list(Device.objects.values()) == ours_before
    again = client.post("/api/v1/devices/pair/", {"code": code}, content_type="application/json")
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_code"


@pytest.mark.parametrize("path", device_routes())
def test_an_authenticated_device_sees_nothing_of_another_brand(path, two_brands, other_admin):
    w = two_brands

    async def run():
        a, b = Socket(path), Socket(path)
        await a.open()
        assert (await a.hello(str(w["ours"].uid), secret=w["our_secret"]))["type"] == "welcome"
        await b.open()
        welcome_b = await b.hello(str(w["theirs"].uid), secret=w["their_secret"])
        assert welcome_b["type"] == "welcome"

        def command_b():
            with brand_scope(w["b"]):
                theirs = Device.objects.get(pk=w["theirs"].pk)
            return services.command_send(
                brand=w["b"], device=theirs, name="show_message", payload={"text": MARKER, "seconds": 3}
            )

        command = await database_sync_to_async(command_b)()
        got = await b.receive()
        assert got["type"] == "show_message" and got["id"] == str(command.uid)
        assert await a.comm.receive_nothing(timeout=0.5)  # A hears nothing of B's command

        # A answers B's command: unknown to A, B's command stays waiting.
        await a.comm.send_to(text_data=frame("result", {"ref": str(command.uid), "ok": True}, id="r1"))
        err = await a.receive()
        assert err["type"] == "error" and err["payload"]["code"] == "unknown_command", err

        # A fetches the staff list: its own store's people only.
        await a.comm.send_to(text_data=frame("fetch", {"what": "staff"}, id="f1"))
        staff = await a.receive()
        assert staff["type"] == "staff_list"
        text = json.dumps(staff, ensure_ascii=False)
        assert "王芳" in text and MARKER not in text
        await a.comm.send_to(text_data=frame("fetch", {"what": "config"}, id="f2"))
        assert MARKER not in json.dumps(await a.receive(), ensure_ascii=False)
        await a.comm.disconnect()
        await b.comm.disconnect()
        return command

    command = async_to_sync(run)()
    with brand_scope(w["b"]):
        assert DeviceCommand.objects.get(pk=command.pk).status == DeviceCommand.Status.SENT


def test_another_brands_store_staff_never_reach_a_device(brand, brand_admin, store, other_brand, other_store):
    """A person of B linked (wrongly) to nothing of A: the staff list reads A's store in A's brand."""
    StaffFactory(brand=other_brand, role=Staff.Role.GUIDE, stores=[other_store], name=f"{MARKER}店员")
    second = StoreFactory(brand=brand)
    StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[second], name="另一家店的人")
    from devices import selectors

    _version, rows = selectors.staff_for_device(brand_id=brand.pk, store_id=other_store.pk)
    assert rows == []  # B's store id asked in A's brand: nobody
    _version, rows = selectors.staff_for_device(brand_id=brand.pk, store_id=store.pk)
    assert all(r["name"] != "另一家店的人" for r in rows)
