"""The chat sockets: the guide's /ws/chat/ and the shopper's /ws/s/<brand>/chat/ — session auth,
brand scoping, frames, live delivery both ways, read and delivered marks."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from guides.messaging import consumers, conversations, sending
from guides.messaging.models import Conversation, Message
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory
from tests.helpers.auth import login_as
from tests.helpers.shop import as_shopper

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_memory_channel_layer")]


@pytest.fixture(autouse=True)
def _fast_delivered(monkeypatch):
    monkeypatch.setattr(consumers, "DELIVERED_EVERY_SECONDS", 0.05)


@pytest.fixture(autouse=True)
def _no_follow_ups(monkeypatch):
    """Only the sockets here: no auto-reply, push or outbound notice (tested where they live)."""
    from guides.messaging import autoreply, outbound, push

    monkeypatch.setattr(autoreply, "maybe_reply", lambda **kw: None)
    monkeypatch.setattr(push, "schedule", lambda **kw: None)
    monkeypatch.setattr(outbound, "schedule", lambda **kw: None)


@pytest.fixture
def member(brand, guide):
    return MemberFactory(brand=brand, guide=guide, name="李娜")


@pytest.fixture
def conv(brand, member):
    return conversations.conversation_for_member(brand=brand, member=member)


def _staff_cookie(staff):
    client = Client()
    login_as(client, staff)
    return f"{settings.SESSION_COOKIE_NAME}={client.session.session_key}".encode()


def _shopper_cookie(brand, member):
    client = as_shopper(Client(), brand, member)
    return f"{settings.SESSION_COOKIE_NAME}={client.session.session_key}".encode()


def _comm(path, cookie=None):
    from retail.asgi import application

    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers)


async def _frame(comm, want: str | None = None, timeout=3, sender: str | None = None):
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if (want is None or frame["type"] == want) and (
            sender is None or frame["message"]["sender"] == sender
        ):
            return frame


async def _types_until_quiet(comm, quiet=0.3) -> list[str]:
    """The types of the frames that come before the socket has been quiet for ``quiet`` s."""
    types = []
    while not await comm.receive_nothing(timeout=quiet):
        types.append((await comm.receive_json_from())["type"])
    return types


def _fresh(brand, conv):
    with brand_scope(brand):
        return Conversation.objects.get(pk=conv.pk)


def _count(brand):
    with brand_scope(brand):
        return Message.objects.for_brand(brand).count()


def test_guide_and_shopper_chat_live_both_ways(brand, guide, member, conv):
    staff_cookie, shopper_cookie = _staff_cookie(guide), _shopper_cookie(brand, member)

    async def run():
        g = _comm("/ws/chat/", staff_cookie)
        s = _comm(f"/ws/s/{brand.slug}/chat/", shopper_cookie)
        assert (await g.connect())[0] and (await s.connect())[0]
        assert (await _frame(g))["type"] == "hello"
        hello = await _frame(s)
        assert hello == {"type": "hello", "side": "member", "brand": brand.pk, "conversation": conv.pk}

        await s.send_json_to({"type": "send", "client_id": "s-1", "body": "在吗？"})
        ack = await _frame(s, "sent")
        assert ack["client_id"] == "s-1" and ack["message"]["body"] == "在吗？"
        live = await _frame(g, "message", sender="member")
        assert live["message"]["id"] == ack["message"]["id"] and live["message"]["sender"] == "member"

        await g.send_json_to(
            {"type": "send", "conversation": conv.pk, "client_id": "g-1", "kind": "text", "body": "在的"}
        )
        sent = await _frame(g, "sent")
        to_shopper = await _frame(s, "message", sender="guide")
        assert to_shopper["message"]["id"] == sent["message"]["id"]
        assert to_shopper["message"]["staff_name"] == guide.name
        # The shopper's socket got it: "delivered" reaches the guide (one coalesced UPDATE).
        delivered = await _frame(g, "read")
        assert delivered == {
            "type": "read",
            "conversation": conv.pk,
            "side": "delivered",
            "upto": sent["message"]["id"],
        }
        # The shopper reads: the guide's ticks turn to read.
        await s.send_json_to({"type": "read", "upto": sent["message"]["id"]})
        read = await _frame(g, "read")
        assert read["side"] == "member" and read["upto"] == sent["message"]["id"]
        await g.disconnect()
        await s.disconnect()
        return sent["message"]["id"]

    guide_msg = async_to_sync(run)()
    conv = _fresh(brand, conv)
    assert conv.member_delivered_upto == guide_msg and conv.member_read_upto == guide_msg
    assert conv.member_unread == 0 and _count(brand) == 2


def test_the_sending_socket_gets_its_ack_and_the_senders_other_sockets_the_message(
    brand, guide, member, conv
):
    staff_cookie, shopper_cookie = _staff_cookie(guide), _shopper_cookie(brand, member)

    async def run():
        phone, laptop = _comm("/ws/chat/", staff_cookie), _comm("/ws/chat/", staff_cookie)
        s = _comm(f"/ws/s/{brand.slug}/chat/", shopper_cookie)
        for comm in (phone, laptop, s):
            assert (await comm.connect())[0]
            assert (await _frame(comm))["type"] == "hello"

        for n in range(3):
            await phone.send_json_to(
                {"type": "send", "conversation": conv.pk, "client_id": f"g-{n}", "body": f"第{n}条"}
            )
            sent = await _frame(phone)
            assert sent["type"] == "sent" and sent["client_id"] == f"g-{n}"
            on_laptop = await _frame(laptop)
            assert on_laptop["type"] == "message" and on_laptop["message"]["id"] == sent["message"]["id"]
            to_shopper = await _frame(s, "message")
            assert to_shopper["message"]["id"] == sent["message"]["id"]
        # The phone already has each message in its ack: no copy of its own messages comes back
        # (the shopper's "delivered" marks do).
        assert "message" not in await _types_until_quiet(phone)

        # The same for the shopper: the guide's sockets get the message, the shopper's only the ack.
        await s.send_json_to({"type": "send", "client_id": "s-1", "body": "收到"})
        ack = await _frame(s, "sent")
        for comm in (phone, laptop):
            assert (await _frame(comm, "message", sender="member"))["message"]["id"] == ack["message"]["id"]
        assert "message" not in await _types_until_quiet(s)
        for comm in (phone, laptop, s):
            await comm.disconnect()

    async_to_sync(run)()
    assert _count(brand) == 4


def test_delivered_is_one_update_for_a_burst(brand, guide, member, conv, monkeypatch):
    """However many messages arrive within the interval, one UPDATE (here: the flush on close)."""
    monkeypatch.setattr(consumers, "DELIVERED_EVERY_SECONDS", 3600)
    calls = []
    real = consumers._mark_delivered
    monkeypatch.setattr(consumers, "_mark_delivered", lambda *a: (calls.append(a), real(*a)))
    cookie = _shopper_cookie(brand, member)

    async def run():
        s = _comm(f"/ws/s/{brand.slug}/chat/", cookie)
        await s.connect()
        await _frame(s, "hello")
        ids = []
        for i in range(5):
            sent = await database_sync_to_async(sending.send_as_guide)(
                brand=brand, staff=guide, conversation_id=conv.pk, body=f"第{i}条"
            )
            ids.append(sent.message.pk)
        for _ in ids:
            await _frame(s, "message")
        await s.disconnect()
        return ids

    ids = async_to_sync(run)()
    assert calls == [(brand.pk, conv.pk, ids[-1])]
    conv = _fresh(brand, conv)
    assert conv.member_delivered_upto == ids[-1]


def test_bad_frames_answer_errors_and_the_socket_stays_open(brand, guide, conv):
    cookie = _staff_cookie(guide)

    async def run():
        g = _comm("/ws/chat/", cookie)
        await g.connect()
        await _frame(g, "hello")
        bad = [
            ("{oops", "bad_json"),
            (json.dumps([1]), "bad_frame"),
            (json.dumps({"type": "dance"}), "unknown_type"),
            ("x" * (consumers.FRAME_MAX + 1), "bad_frame"),
            (json.dumps({"type": "send", "conversation": "1", "body": "x"}), "bad_frame"),
            (json.dumps({"type": "send", "conversation": conv.pk, "body": 5}), "bad_frame"),
            (json.dumps({"type": "send", "conversation": conv.pk, "body": "a\x00b"}), "bad_frame"),
            (json.dumps({"type": "send", "conversation": conv.pk, "kind": "video", "body": "x"}), "bad_kind"),
            (
                json.dumps({"type": "send", "conversation": conv.pk, "client_id": "c" * 41, "body": "x"}),
                "bad_frame",
            ),
            (json.dumps({"type": "send", "conversation": conv.pk, "kind": "product"}), "bad_frame"),
            (json.dumps({"type": "send", "conversation": True, "body": "x"}), "bad_frame"),
            (json.dumps({"type": "send", "conversation": conv.pk, "body": "x" * 1001}), "invalid"),
            (json.dumps({"type": "send", "conversation": conv.pk, "body": "  "}), "invalid"),
            (json.dumps({"type": "read", "conversation": conv.pk, "upto": -1}), "bad_frame"),
        ]
        codes = []
        for text, _want in bad:
            await g.send_to(text_data=text)
            codes.append((await _frame(g, "error"))["code"])
        await g.send_to(bytes_data=b"\x00\x01")
        codes.append((await _frame(g, "error"))["code"])
        await g.send_json_to({"type": "ping"})
        assert (await _frame(g))["type"] == "pong"
        await g.disconnect()
        return codes, bad

    codes, bad = async_to_sync(run)()
    assert codes[:-1] == [want for _text, want in bad]
    assert codes[-1] == "bad_frame"
    assert _count(brand) == 0


def test_another_guides_or_brands_conversation_is_refused_and_nothing_stored(
    brand, other_brand, store, guide, conv
):
    colleague = StaffFactory(brand=brand, stores=[store], role=Staff.Role.GUIDE)
    theirs = conversations.conversation_for_member(
        brand=brand, member=MemberFactory(brand=brand, guide=colleague)
    )
    b_guide = StaffFactory(brand=other_brand, role=Staff.Role.GUIDE)
    b_conv = conversations.conversation_for_member(
        brand=other_brand, member=MemberFactory(brand=other_brand, guide=b_guide)
    )
    cookie = _staff_cookie(guide)

    async def run():
        g = _comm("/ws/chat/", cookie)
        await g.connect()
        await _frame(g, "hello")
        codes = []
        for pk in (theirs.pk, b_conv.pk, 10**12):
            await g.send_json_to({"type": "send", "conversation": pk, "client_id": f"x{pk}", "body": "hi"})
            err = await _frame(g, "error")
            codes.append((err["code"], err.get("client_id")))
            await g.send_json_to({"type": "read", "conversation": pk, "upto": 1})
            codes.append(((await _frame(g, "error"))["code"], None))
        await g.disconnect()
        return codes

    codes = async_to_sync(run)()
    assert [c for c, _ in codes] == ["forbidden"] * 6
    assert codes[0][1] == f"x{theirs.pk}"
    assert _count(brand) == 0
    with brand_scope(other_brand):
        assert not Message.objects.for_brand(other_brand).exists()


def test_a_shopper_socket_needs_the_members_session_of_that_brand(brand, other_brand, member):
    cookie = _shopper_cookie(brand, member)

    async def run():
        results = []
        for path, c in [
            (f"/ws/s/{brand.slug}/chat/", None),  # no session
            (f"/ws/s/{other_brand.slug}/chat/", cookie),  # a member of A at brand B's socket
            ("/ws/s/no-such-brand/chat/", cookie),
        ]:
            comm = _comm(path, c)
            results.append(await comm.connect())
            await comm.disconnect()
        return results

    assert [r for r in async_to_sync(run)()] == [(False, 4401)] * 3


def test_a_shopper_can_only_write_into_their_own_conversation(brand, guide, member, conv):
    other = MemberFactory(brand=brand, guide=guide)
    other_conv = conversations.conversation_for_member(brand=brand, member=other)
    cookie = _shopper_cookie(brand, member)

    async def run():
        s = _comm(f"/ws/s/{brand.slug}/chat/", cookie)
        await s.connect()
        await _frame(s, "hello")
        # A conversation id in the frame is ignored: the session decides whose conversation it is.
        await s.send_json_to({"type": "send", "conversation": other_conv.pk, "client_id": "a", "body": "hi"})
        ack = await _frame(s, "sent")
        # Shoppers send text only over the socket (cards are the guide's).
        await s.send_json_to({"type": "send", "kind": "product", "target": 1, "body": ""})
        err = await _frame(s, "error")
        await s.disconnect()
        return ack, err

    ack, err = async_to_sync(run)()
    assert ack["message"]["conversation"] == conv.pk and err["code"] == "bad_kind"
    with brand_scope(brand):
        assert not Message.objects.filter(conversation=other_conv).exists()


def test_a_resent_frame_is_stored_once(brand, guide, conv):
    cookie = _staff_cookie(guide)

    async def run():
        g = _comm("/ws/chat/", cookie)
        await g.connect()
        await _frame(g, "hello")
        frame = {"type": "send", "conversation": conv.pk, "client_id": "same", "body": "一次"}
        await g.send_json_to(frame)
        first = await _frame(g, "sent")
        await g.send_json_to(frame)
        second = await _frame(g, "sent")
        await g.disconnect()
        return first, second

    first, second = async_to_sync(run)()
    assert first["message"]["id"] == second["message"]["id"]
    assert _count(brand) == 1


def test_a_guide_who_lost_the_member_is_refused_and_close_events_close(brand, store, guide, member, conv):
    cookie = _staff_cookie(guide)
    colleague = StaffFactory(brand=brand, stores=[store], role=Staff.Role.GUIDE)

    async def run():
        g = _comm("/ws/chat/", cookie)
        await g.connect()
        await _frame(g, "hello")
        await database_sync_to_async(_hand_over)(brand, member, colleague)
        await g.send_json_to({"type": "send", "conversation": conv.pk, "client_id": "late", "body": "还在吗"})
        err = await _frame(g, "error")
        from channels.layers import get_channel_layer

        from guides.messaging import realtime

        await get_channel_layer().group_send(
            realtime.chat_staff_group(brand.pk, guide.pk), {"type": "chat.close", "code": 4403}
        )
        closed = await g.receive_output(timeout=3)
        return err, closed

    err, closed = async_to_sync(run)()
    assert err["code"] == "forbidden" and err["client_id"] == "late"
    assert closed == {"type": "websocket.close", "code": 4403}
    assert _count(brand) == 0


def _hand_over(brand, member, to):
    from members.models import Member

    with brand_scope(brand):
        Member.objects.filter(pk=member.pk).update(guide=to)


def test_a_staff_socket_without_a_session_or_with_another_brands_is_refused(brand, other_brand, guide):
    cookie = _staff_cookie(guide)
    client = Client()
    login_as(client, guide)
    session = client.session
    from retail.middleware import SESSION_BRAND_KEY

    session[SESSION_BRAND_KEY] = other_brand.pk
    session.save()
    forged = f"{settings.SESSION_COOKIE_NAME}={session.session_key}".encode()

    async def run():
        out = []
        for c in (None, forged, cookie):
            comm = _comm("/ws/chat/", c)
            out.append((await comm.connect())[1] if c is not cookie else (await comm.connect())[0])
            await comm.disconnect()
        return out

    assert async_to_sync(run)() == [4401, 4403, True]


def test_conversation_frames_are_passed_on(brand, guide, conv):
    cookie = _staff_cookie(guide)

    async def run():
        g = _comm("/ws/chat/", cookie)
        await g.connect()
        await _frame(g, "hello")
        from channels.layers import get_channel_layer

        from guides.messaging import realtime, wire

        data = await database_sync_to_async(lambda: _wire(brand, conv))()
        await get_channel_layer().group_send(
            realtime.chat_staff_group(brand.pk, guide.pk), {"type": "chat.conversation", "conversation": data}
        )
        frame = await _frame(g, "conversation")
        await g.disconnect()
        assert wire
        return frame

    frame = async_to_sync(run)()
    assert frame["conversation"]["id"] == conv.pk


def _wire(brand, conv):
    from guides.messaging import wire

    with brand_scope(brand):
        return wire.conversation(Conversation.objects.get(pk=conv.pk), side="guide")


def test_with_the_channel_layer_down_a_message_is_stored_and_acknowledged(brand, guide, conv, monkeypatch):
    """Redis (the channel layer) gone while sockets are open: live delivery is lost, nothing else:
    the sender's message is stored and acknowledged, the failure is logged, and the other side
    sees it when its page loads."""
    from channels.layers import get_channel_layer

    from guides.messaging import realtime

    staff_cookie = _staff_cookie(guide)
    layer = get_channel_layer()
    logged = []
    monkeypatch.setattr(realtime.logger, "warning", lambda msg, *args, **kw: logged.append(msg % args))

    async def down(group, message):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    async def run():
        g = _comm("/ws/chat/", staff_cookie)
        assert (await g.connect())[0]
        assert (await _frame(g))["type"] == "hello"
        layer.group_send = down
        try:
            await g.send_json_to(
                {
                    "type": "send",
                    "conversation": conv.pk,
                    "client_id": "g-down",
                    "kind": "text",
                    "body": "在的",
                }
            )
            ack = await _frame(g, "sent")
        finally:
            del layer.group_send
        await g.disconnect()
        return ack

    ack = async_to_sync(run)()
    assert ack["client_id"] == "g-down"
    with brand_scope(brand):
        stored = Message.objects.get(pk=ack["message"]["id"])
    assert stored.body == "在的" and _fresh(brand, conv).member_unread == 1
    assert logged and "unreachable" in logged[0]


def test_a_closed_membership_is_refused_in_words_the_shopper_reads(brand, guide, member, conv):
    """The error frame a person sees is in the brand's language, not an English code."""
    shopper_cookie = _shopper_cookie(brand, member)

    async def run():
        s = _comm(f"/ws/s/{brand.slug}/chat/", shopper_cookie)
        assert (await s.connect())[0]
        await _frame(s, "hello")
        await database_sync_to_async(_close_membership)(brand, member)
        await s.send_json_to({"type": "send", "client_id": "s-x", "body": "在吗？"})
        err = await _frame(s, "error")
        await s.disconnect()
        return err

    err = async_to_sync(run)()
    assert err["code"] == "forbidden" and err["message"] == "该会员身份已关闭。"
    assert _count(brand) == 0


def _close_membership(brand, member):
    from members.models import Member

    with brand_scope(brand):
        Member.objects.filter(pk=member.pk).update(status=Member.Status.ERASED)
