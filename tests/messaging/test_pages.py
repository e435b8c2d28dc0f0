"""The chat pages: the guide's 消息 tab (inbox, badge, conversation, history, send, images, pickers)
and the shopper's chat (member card link, signed link, send, images)."""

import io
import json
import time

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone
from PIL import Image

from guides.messaging import conversations, links, sending
from guides.messaging.models import Conversation, Message
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import (
    CampaignFactory,
    InventoryFactory,
    MemberFactory,
    ProductFactory,
    SkuFactory,
    StaffFactory,
)
from tests.helpers.auth import login_as
from tests.helpers.shop import as_shopper

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_follow_ups(monkeypatch):
    """Only the pages here: no auto-reply, push or outbound notice (tested where they live)."""
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


@pytest.fixture
def as_guide(client, guide):
    return login_as(client, guide)


def _png(size=(200, 150), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 80, 120)).save(buf, fmt)
    return buf.getvalue()


def _upload(name, data, content_type="image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def _fresh(brand, conv):
    with brand_scope(brand):
        return Conversation.objects.get(pk=conv.pk)


def _member_says(brand, member, text):
    return sending.send_as_member(brand=brand, member=member, body=text).message


# --- the guide's side ------------------------------------------------------------------------------


def test_inbox_lists_her_conversations_with_unread_badges_and_the_tab_badge(
    brand, store, guide, member, conv, as_guide
):
    _member_says(brand, member, "在吗？")
    _member_says(brand, member, "想问下精华液")
    colleague = StaffFactory(brand=brand, stores=[store], role=Staff.Role.GUIDE)
    theirs = MemberFactory(brand=brand, guide=colleague, name="别人的会员")
    _member_says(brand, theirs, "不该看到")
    resp = as_guide.get("/m/messages/")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert "李娜" in body and "想问下精华液" in body and "别人的会员" not in body
    assert 'data-testid="unread">2<' in body
    assert 'data-testid="tab-badge-messages">2<' in body
    # Other tabs carry the badge too.
    assert 'data-testid="tab-badge-messages">2<' in as_guide.get("/m/").content.decode()


def test_inbox_search_by_name_or_phone_digits(brand, guide, member, conv, as_guide):
    other = MemberFactory(brand=brand, guide=guide, name="张敏", phone="13912345678")
    conversations.conversation_for_member(brand=brand, member=other)
    body = as_guide.get("/m/messages/", {"q": "张"}).content.decode()
    assert "张敏" in body and "李娜" not in body
    body = as_guide.get("/m/messages/", {"q": "5678"}).content.decode()
    assert "张敏" in body and "李娜" not in body
    body = as_guide.get("/m/messages/", {"q": "x" * 500 + "\x00"}).content.decode()
    assert "李娜" not in body
    assert as_guide.get("/m/messages/", {"q": "\x00李"}).status_code == 400
    for page in ("999999999999999999", "-1", "abc", "0"):
        assert as_guide.get("/m/messages/", {"page": page}).status_code == 200


def test_the_tab_badge_is_one_query(brand, guide, member, conv, as_guide, django_assert_max_num_queries):
    _member_says(brand, member, "在吗？")
    from retail.navigation import menu

    entry = next(e for e in menu("tabbar", guide) if e["key"] == "messages")
    with brand_scope(brand), django_assert_max_num_queries(1):  # a request runs in its brand's scope
        assert entry["badge"]() == "1"


def test_opening_a_conversation_marks_it_read_and_shows_history(brand, guide, member, conv, as_guide):
    for i in range(35):  # stored directly: the shopper's per-minute limit is not what this tests
        conversations.message_send(brand=brand, conversation=conv, sender="member", body=f"消息{i}")
    resp = as_guide.get(f"/m/messages/{conv.pk}/")
    assert resp.status_code == 200
    conv = _fresh(brand, conv)
    assert conv.guide_unread == 0
    state = resp.context["chat_state"]
    assert len(state["messages"]) == 30 and state["more"] is True
    assert state["messages"][-1]["body"] == "消息34"
    first = state["messages"][0]["id"]
    page = as_guide.get(f"/m/messages/{conv.pk}/history/", {"before": first}).json()
    assert [m["body"] for m in page["messages"]] == [f"消息{i}" for i in range(5)]
    assert page["more"] is False
    for bad in ("x", "-1", "1" * 40):
        assert as_guide.get(f"/m/messages/{conv.pk}/history/", {"before": bad}).status_code == 400


def test_another_guides_or_brands_conversation_is_404(brand, other_brand, store, guide, as_guide):
    colleague = StaffFactory(brand=brand, stores=[store], role=Staff.Role.GUIDE)
    theirs = conversations.conversation_for_member(
        brand=brand, member=MemberFactory(brand=brand, guide=colleague)
    )
    b_conv = conversations.conversation_for_member(brand=other_brand, member=MemberFactory(brand=other_brand))
    for pk in (theirs.pk, b_conv.pk):
        for url in (f"/m/messages/{pk}/", f"/m/messages/{pk}/history/", f"/m/messages/{pk}/pick/orders/"):
            assert as_guide.get(url).status_code == 404, url
        assert as_guide.post(f"/m/messages/{pk}/send/", {"body": "hi"}).status_code == 404
        assert (
            as_guide.post(f"/m/messages/{pk}/image/", {"image": _upload("a.png", _png())}).status_code == 404
        )
    with brand_scope(brand):
        assert not Message.objects.exists()


def test_send_over_http_text_and_cards_with_bad_input(brand, store, guide, conv, as_guide):
    url = f"/m/messages/{conv.pk}/send/"
    ok = as_guide.post(url, json.dumps({"body": "您好", "client_id": "a1"}), content_type="application/json")
    assert ok.status_code == 200 and ok.json()["message"]["body"] == "您好"
    again = as_guide.post(
        url, json.dumps({"body": "您好", "client_id": "a1"}), content_type="application/json"
    )
    assert again.json()["message"]["id"] == ok.json()["message"]["id"]
    product = ProductFactory(brand=brand, name="面霜")
    InventoryFactory(
        brand=brand, store=store, sku=SkuFactory(brand=brand, product=product, list_price_fen=5900)
    )
    card = as_guide.post(url, {"kind": "product", "target": product.pk})
    assert card.status_code == 200 and card.json()["message"]["data"]["price"] == "¥59.00"
    for bad in (
        "{oops",
        json.dumps([1]),
        json.dumps({"body": 5}),
        json.dumps({"body": "a\x00b"}),
        json.dumps({"kind": "video", "body": "x"}),
        json.dumps({"kind": "product", "target": "abc"}),
        json.dumps({"kind": "coupon", "target": 10**12}),
        json.dumps({"body": "x" * 1001}),
        json.dumps({"body": "x", "client_id": "c" * 41}),
    ):
        resp = as_guide.post(url, bad, content_type="application/json")
        assert resp.status_code == 400, bad
        assert resp.json()["error"]["message"]
    with brand_scope(brand):
        assert Message.objects.count() == 2


def test_pickers_list_her_store_products_coupons_and_the_members_orders(
    brand, store, guide, member, conv, as_guide
):
    product = ProductFactory(brand=brand, name="面霜")
    InventoryFactory(brand=brand, store=store, sku=SkuFactory(brand=brand, product=product))
    CampaignFactory(brand=brand, name="新客券")
    base = f"/m/messages/{conv.pk}/pick/"
    assert [i["title"] for i in as_guide.get(base + "products/").json()["items"]] == ["面霜"]
    assert as_guide.get(base + "products/", {"q": "没有"}).json()["items"] == []
    assert as_guide.get(base + "products/", {"q": "\x00面"}).status_code == 400
    assert [i["title"] for i in as_guide.get(base + "coupons/").json()["items"]] == ["新客券"]
    assert as_guide.get(base + "orders/").json()["items"] == []
    assert as_guide.get(base + "secrets/").status_code == 404


def test_canned_replies_and_the_member_panel_are_on_the_page(brand, guide, member, conv, as_guide):
    from guides.messaging.models import CannedReply

    with brand_scope(brand):
        CannedReply.objects.create(brand=brand, title="问候", body="您好，欢迎光临！")
        CannedReply.objects.create(brand=brand, staff=guide, title="到店", body="我今天在店里")
    body = as_guide.get(f"/m/messages/{conv.pk}/").content.decode()
    assert "您好，欢迎光临！" in body and "我今天在店里" in body
    assert 'data-testid="chat-panel"' in body


# --- images --------------------------------------------------------------------------------------


def test_images_are_checked_stored_privately_and_served_only_to_the_two_sides(
    brand, store, guide, member, conv, as_guide
):
    resp = as_guide.post(
        f"/m/messages/{conv.pk}/image/", {"image": _upload("a.png", _png()), "client_id": "i1"}
    )
    assert resp.status_code == 200, resp.content
    msg_id = resp.json()["message"]["id"]
    with brand_scope(brand):
        msg = Message.objects.get(pk=msg_id)
    assert msg.kind == "image" and msg.image.name.startswith("chat/") and msg.image.name.endswith(".jpg")
    assert msg.files_expire_at is not None and msg.files_expire_at > timezone.now()

    seen = as_guide.get(f"/m/messages/{conv.pk}/images/{msg_id}/")
    assert seen.status_code == 200 and seen["Content-Type"] == "image/jpeg"
    assert seen["X-Content-Type-Options"] == "nosniff" and "private" in seen["Cache-Control"]
    data = b"".join(seen.streaming_content)
    assert Image.open(io.BytesIO(data)).format == "JPEG"

    shopper = as_shopper(Client(), brand, member)
    assert shopper.get(f"/s/{brand.slug}/chat/images/{msg_id}/").status_code == 200

    stranger = as_shopper(Client(), brand, MemberFactory(brand=brand, guide=guide))
    assert stranger.get(f"/s/{brand.slug}/chat/images/{msg_id}/").status_code == 404
    assert Client().get(f"/s/{brand.slug}/chat/images/{msg_id}/").status_code == 404
    colleague = StaffFactory(brand=brand, stores=[store], role=Staff.Role.GUIDE)
    assert login_as(Client(), colleague).get(f"/m/messages/{conv.pk}/images/{msg_id}/").status_code == 404

    with brand_scope(brand):
        Message.objects.filter(pk=msg_id).update(files_expire_at=timezone.now())
    assert as_guide.get(f"/m/messages/{conv.pk}/images/{msg_id}/").status_code == 410


def test_bad_uploads_are_refused_and_nothing_is_stored(brand, guide, member, conv, as_guide):
    url = f"/m/messages/{conv.pk}/image/"
    from cloudstore import images

    cases = [
        {},
        {"image": _upload("a.png", b"not an image at all")},
        {"image": _upload("a.html", b"<html><script>alert(1)</script>", "text/html")},
        {"image": _upload("tiny.png", _png((10, 10)))},
        {"image": _upload("big.png", b"\x89PNG" + b"0" * (images.MAX_UPLOAD_BYTES + 10))},
        {"image": _upload("a.png", _png()), "client_id": "c" * 41},
    ]
    for data in cases:
        resp = as_guide.post(url, data)
        assert resp.status_code in (400, 413), data.keys()
    shopper = as_shopper(Client(), brand, member)
    assert (
        shopper.post(f"/s/{brand.slug}/chat/image/", {"image": _upload("x.gif", b"GIF89a")}).status_code
        == 400
    )
    with brand_scope(brand):
        assert not Message.objects.exists()


def test_the_shopper_sends_an_image(brand, guide, member, conv):
    shopper = as_shopper(Client(), brand, member)
    resp = shopper.post(f"/s/{brand.slug}/chat/image/", {"image": _upload("p.jpg", _png(fmt="JPEG"))})
    assert resp.status_code == 200
    msg_id = resp.json()["message"]["id"]
    assert login_as(Client(), guide).get(f"/m/messages/{conv.pk}/images/{msg_id}/").status_code == 200
    conv = _fresh(brand, conv)
    assert conv.guide_unread == 1 and conv.last_preview.startswith("[")


# --- the shopper's side ----------------------------------------------------------------------------


def test_the_member_card_links_to_the_chat_and_the_chat_shows_history(brand, guide, member, conv):
    sending.send_as_guide(brand=brand, staff=guide, conversation_id=conv.pk, body="欢迎您！")
    shopper = as_shopper(Client(), brand, member)
    home = shopper.get(f"/s/{brand.slug}/").content.decode()
    assert f'href="/s/{brand.slug}/chat/"' in home
    resp = shopper.get(f"/s/{brand.slug}/chat/")
    assert resp.status_code == 200
    assert resp.context["chat_state"]["messages"][0]["body"] == "欢迎您！"
    assert guide.name in resp.content.decode()
    conv = _fresh(brand, conv)
    assert conv.member_unread == 0 and conv.member_read_upto > 0


def test_the_chat_needs_a_member_session(brand, other_brand, member):
    assert Client().get(f"/s/{brand.slug}/chat/")["Location"] == f"/s/{brand.slug}/login/"
    shopper = as_shopper(Client(), brand, member)
    # A member of brand A is nobody at brand B.
    assert shopper.get(f"/s/{other_brand.slug}/chat/")["Location"] == f"/s/{other_brand.slug}/login/"
    assert shopper.post(f"/s/{other_brand.slug}/chat/send/", {"body": "hi"}).status_code == 403
    assert shopper.get(f"/s/{other_brand.slug}/chat/history/").status_code == 403
    with brand_scope(other_brand):
        assert not Conversation.objects.exists()


def test_the_shopper_sends_over_http(brand, member, conv):
    shopper = as_shopper(Client(), brand, member)
    url = f"/s/{brand.slug}/chat/send/"
    resp = shopper.post(url, json.dumps({"body": "在吗", "client_id": "s1"}), content_type="application/json")
    assert resp.status_code == 200 and resp.json()["message"]["sender"] == "member"
    assert shopper.post(url, {"kind": "product", "target": 1}).status_code == 400
    assert shopper.post(url, {"body": ""}).status_code == 400
    with brand_scope(brand):
        assert Message.objects.count() == 1


def test_a_signed_link_logs_the_member_in_and_opens_the_chat(brand, member, conv):
    link = links.chat_link(brand, member)
    assert link.startswith(f"/s/{brand.slug}/chat/?t=")
    client = Client()
    resp = client.get(link)
    assert (
        resp.status_code == 302 and resp["Location"] == f"/s/{brand.slug}/chat/"
    )  # the token leaves the URL
    assert client.get(resp["Location"]).status_code == 200
    assert client.session["shopper"] == {str(brand.pk): member.pk}


def test_tampered_expired_or_foreign_links_log_nobody_in(brand, other_brand, member, monkeypatch):
    token = links.chat_token(brand, member)
    other = MemberFactory(brand=brand)
    forged = signing.dumps({"b": brand.pk, "m": other.pk}, salt="another salt", compress=True)
    b_member = MemberFactory(brand=other_brand)
    cases = [
        token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        forged,
        "",
        "x" * 1000,
        links.chat_token(other_brand, b_member),
    ]
    for bad in cases:
        client = Client()
        resp = client.get(f"/s/{brand.slug}/chat/", {"t": bad})
        assert resp["Location"] == f"/s/{brand.slug}/login/", bad
        assert "shopper" not in client.session or not client.session["shopper"]
    # Brand A's token at brand B's address logs nobody in at B.
    client = Client()
    client.get(f"/s/{other_brand.slug}/chat/", {"t": token})
    assert not client.session.get("shopper")
    # Expired: signed long ago.
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - links.LINK_MAX_AGE - 60)
    old = links.chat_token(brand, member)
    monkeypatch.setattr(time, "time", real_time)
    client = Client()
    assert client.get(f"/s/{brand.slug}/chat/", {"t": old})["Location"] == f"/s/{brand.slug}/login/"
    assert not client.session.get("shopper")


def test_a_link_to_an_erased_member_logs_nobody_in(brand, member):
    from members.models import Member

    token = links.chat_token(brand, member)
    with brand_scope(brand):
        Member.objects.filter(pk=member.pk).update(status=Member.Status.ERASED)
    client = Client()
    assert client.get(f"/s/{brand.slug}/chat/", {"t": token})["Location"] == f"/s/{brand.slug}/login/"
