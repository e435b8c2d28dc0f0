"""The staff websocket: session authentication, brand scoping, frames and group pushes."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from retail.asgi import application
from retail.consumers import staff_group
from tests.helpers.auth import login_as

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_memory_channel_layer")]


def _cookie(staff):
    client = Client()
    login_as(client, staff)
    return f"{settings.SESSION_COOKIE_NAME}={client.session.session_key}".encode()


def _communicator(cookie=None, origin=b"http://localhost"):
    headers = [(b"host", b"localhost"), (b"origin", origin)]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/staff/", headers=headers)


def test_hello_ping_and_bad_frames(guide):
    cookie = _cookie(guide)

    async def run():
        comm = _communicator(cookie)
        connected, _ = await comm.connect()
        assert connected
        hello = await comm.receive_json_from()
        assert hello == {
            "type": "hello",
            "brand": guide.brand_id,
            "staff": guide.pk,
            "name": guide.name,
        }
        await comm.send_to(text_data=json.dumps({"type": "ping"}))
        assert await comm.receive_json_from() == {"type": "pong"}
        await comm.send_to(text_data="{oops")
        assert (await comm.receive_json_from())["code"] == "bad_json"
        await comm.send_to(text_data=json.dumps([1, 2]))
        assert (await comm.receive_json_from())["code"] == "unknown_type"
        await comm.send_to(text_data="x" * 5000)
        assert (await comm.receive_json_from())["code"] == "bad_frame"
        await comm.send_to(bytes_data=b"\x00\x01")
        assert (await comm.receive_json_from())["code"] == "bad_frame"
        await comm.disconnect()

    async_to_sync(run)()


def test_group_push_reaches_only_that_staff_member(guide, store_manager):
    async def run():
        mine = _communicator(_cookie(guide))
        theirs = _communicator(_cookie(store_manager))
        assert (await mine.connect())[0] and (await theirs.connect())[0]
        await mine.receive_json_from()
        await theirs.receive_json_from()
        await get_channel_layer().group_send(
            staff_group(guide.brand_id, guide.pk), {"type": "notify", "payload": {"text": "新消息"}}
        )
        assert await mine.receive_json_from() == {"type": "notify", "payload": {"text": "新消息"}}
        assert await theirs.receive_nothing(timeout=0.2)
        await mine.disconnect()
        await theirs.disconnect()

    async_to_sync(run)()


def test_foreign_origin_is_refused(guide):
    async def run():
        comm = _communicator(_cookie(guide), origin=b"http://evil.example")
        connected, _ = await comm.connect()
        return connected

    assert async_to_sync(run)() is False
