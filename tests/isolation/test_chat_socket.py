"""Cross-tenant probe of the chat sockets (/ws/chat/, /ws/s/<brand>/chat/).

A guide of brand A sends and reads with every id brand B has (its conversation, messages, member,
guide): each frame answers an error, nothing is stored in either brand and B's rows are exactly as
they were. A shopper session of brand A is refused at brand B's shopper socket, also with a session
that names brand B with A's member. Live traffic never crosses brands: A's guide hears nothing of
B's conversation."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from guides.messaging import conversations, sending
from guides.messaging.models import Message
from members import shopper
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory, StoreFactory
from tests.helpers.auth import login_as
from tests.isolation.test_cross_brand import MARKER, _snapshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_memory_channel_layer")]


@pytest.fixture(autouse=True)
def _no_follow_ups(monkeypatch):
    from guides.messaging import autoreply, outbound, push

    monkeypatch.setattr(autoreply, "maybe_reply", lambda **kw: None)
    monkeypatch.setattr(push, "schedule", lambda **kw: None)
    monkeypatch.setattr(outbound, "schedule", lambda **kw: None)


@pytest.fixture
def b_world(other_brand):
    b_store = StoreFactory(brand=other_brand, name=f"{MARKER}门店")
    b_guide = StaffFactory(brand=other_brand, role=Staff.Role.GUIDE, stores=[b_store], name=f"{MARKER}导购")
    b_member = MemberFactory(brand=other_brand, guide=b_guide, name=f"{MARKER}会员")
    conv = conversations.conversation_for_member(brand=other_brand, member=b_member)
    ids = [
        sending.send_as_member(brand=other_brand, member=b_member, body=MARKER).message.pk,
        conversations.message_send(
            brand=other_brand, conversation=conv, sender="guide", staff=b_guide, body=MARKER
        ).message.pk,
    ]
    return {"brand": other_brand, "guide": b_guide, "member": b_member, "conv": conv, "messages": ids}


def _cookie(client: Client) -> bytes:
    return f"{settings.SESSION_COOKIE_NAME}={client.session.session_key}".encode()


def _comm(path: str, cookie: bytes | None = None) -> WebsocketCommunicator:
    from retail.asgi import application

    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


async def _next(comm, want: str, timeout: float = 10) -> dict:
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] == want:
            return frame


def _count(brand) -> int:
    with brand_scope(brand):
        return Message.objects.for_brand(brand).count()


def test_a_guide_sends_and_reads_with_every_b_id_and_gets_errors(brand, guide, b_world):
    b = b_world
    mine = conversations.conversation_for_member(brand=brand, member=MemberFactory(brand=brand, guide=guide))
    # B's ids of every kind the frames could name (none of them is also the id of A's conversation).
    b_ids = [pk for pk in (b["conv"].pk, *b["messages"], b["member"].pk, b["guide"].pk) if pk != mine.pk]
    before = _snapshot(b["brand"])
    client = Client()
    login_as(client, guide)

    async def run():
        g = _comm("/ws/chat/", _cookie(client))
        connected, _code = await g.connect()
        assert connected
        hello = await _next(g, "hello")
        frames = []
        for pk in b_ids:
            for kind, extra in (("text", {}), ("product", {"target": pk}), ("order", {"target": pk})):
                await g.send_json_to(
                    {"type": "send", "conversation": pk, "client_id": f"p{pk}{kind}", "kind": kind,
                     "body": "x", **extra}
                )  # fmt: skip
                frames.append(await _next(g, "error"))
            await g.send_json_to({"type": "read", "conversation": pk, "upto": pk})
            frames.append(await _next(g, "error"))
        # Her own conversation read "up to" one of B's message ids: clamped to her own messages.
        await g.send_json_to({"type": "read", "conversation": mine.pk, "upto": max(b["messages"])})
        await g.send_json_to({"type": "ping"})
        await _next(g, "pong")
        assert await g.receive_nothing(timeout=0.2)
        await g.disconnect()
        return hello, frames

    hello, frames = async_to_sync(run)()
    assert hello["brand"] == brand.pk
    assert len(frames) == 4 * len(b_ids)
    assert {f["code"] for f in frames} == {"forbidden"}
    assert all(MARKER not in str(f) for f in frames)
    assert _count(brand) == 0
    assert _snapshot(b["brand"]) == before


def test_a_guide_hears_nothing_of_another_brands_conversation(brand, guide, b_world):
    b = b_world
    client = Client()
    login_as(client, guide)
    b_client = Client()
    login_as(b_client, b["guide"])

    async def run():
        g = _comm("/ws/chat/", _cookie(client))
        bg = _comm("/ws/chat/", _cookie(b_client))
        for comm in (g, bg):
            assert (await comm.connect())[0]
            await _next(comm, "hello")
        from channels.db import database_sync_to_async

        await database_sync_to_async(sending.send_as_member)(brand=b["brand"], member=b["member"], body="B说")
        heard_by_b = await _next(bg, "message")
        silent = await g.receive_nothing(timeout=0.3)
        for comm in (g, bg):
            await comm.disconnect()
        return heard_by_b, silent

    heard_by_b, silent = async_to_sync(run)()
    assert heard_by_b["message"]["body"] == "B说"
    assert silent


def test_a_shopper_of_brand_a_is_refused_at_brand_bs_socket(brand, member_a, b_world):
    b = b_world
    plain = Client()
    session = plain.session
    session[shopper.SESSION_KEY] = {str(brand.pk): member_a.pk}
    session.save()
    forged = Client()  # a session that names brand B with A's member
    session = forged.session
    session[shopper.SESSION_KEY] = {str(b["brand"].pk): member_a.pk}
    session.save()
    before = _snapshot(b["brand"])

    async def run():
        results = []
        for cookie in (_cookie(plain), _cookie(forged)):
            comm = _comm(f"/ws/s/{b['brand'].slug}/chat/", cookie)
            results.append(await comm.connect())
            await comm.disconnect()
        # At its own brand's socket the shopper writes only into their own conversation, whatever
        # conversation a frame names.
        s = _comm(f"/ws/s/{brand.slug}/chat/", _cookie(plain))
        assert (await s.connect())[0]
        await _next(s, "hello")
        await s.send_json_to({"type": "send", "conversation": b["conv"].pk, "client_id": "c1", "body": "hi"})
        sent = await _next(s, "sent")
        await s.send_json_to({"type": "read", "conversation": b["conv"].pk, "upto": max(b["messages"])})
        await s.send_json_to({"type": "ping"})
        await _next(s, "pong")
        await s.disconnect()
        return results, sent

    results, sent = async_to_sync(run)()
    assert all(not connected for connected, _code in results), results
    assert sent["message"]["conversation"] != b["conv"].pk
    assert _snapshot(b["brand"]) == before


@pytest.fixture
def member_a(brand, guide):
    return MemberFactory(brand=brand, guide=guide)
