"""The messaging REST API: conversations and messages read (messages:read), messages sent as the brand
(messages:write, once per Idempotency-Key, 409 for another body under it); brand admins only among
staff sessions; another brand's ids are 404; bad input is a 400 in the one error shape."""

from __future__ import annotations

import pytest

from guides.messaging import conversations as svc
from guides.messaging.models import Message
from retail.models import AuditLog
from retail.tenancy import brand_scope
from tests.factories import MemberFactory
from tests.helpers.api import api_error, send_json
from tests.helpers.auth import login_as
from tests.helpers.partners import bearer, get_token, make_app

pytestmark = pytest.mark.django_db

CONVS = "/api/v1/conversations/"


def msgs(pk: int) -> str:
    return f"/api/v1/conversations/{pk}/messages/"


@pytest.fixture
def chats(brand, guide, other_brand):
    out = {}
    for name, b in (("ours", brand), ("theirs", other_brand)):
        member = MemberFactory(brand=b, guide=guide if b == brand else None)
        conv = svc.conversation_for_member(brand=b, member=member)
        ids = []
        for i in range(5):
            ids.append(
                svc.message_send(brand=b, conversation=conv, sender="member", body=f"{name}{i}").message.pk
            )
        out[name] = (member, conv, ids)
    return out


def test_an_admin_lists_conversations_with_filters(as_admin, chats, guide, brand):
    member, conv, _ids = chats["ours"]
    other = MemberFactory(brand=brand)
    quiet = svc.conversation_for_member(brand=brand, member=other)
    rows = as_admin.get(CONVS).json()["results"]
    assert [r["id"] for r in rows] == [conv.pk, quiet.pk]  # the latest active first
    one = as_admin.get(CONVS, {"guide": guide.pk}).json()["results"]
    assert [(r["id"], r["guide"], r["guide_unread"], r["last_preview"]) for r in one] == [
        (conv.pk, guide.pk, 5, "ours4")
    ]
    assert [r["id"] for r in as_admin.get(CONVS, {"member": member.pk}).json()["results"]] == [conv.pk]
    assert as_admin.get(CONVS, {"member": chats["theirs"][0].pk}).json()["count"] == 0
    assert as_admin.get(CONVS, {"updated_after": "2100-01-01T00:00:00Z"}).json()["count"] == 0


def test_messages_page_by_id(as_admin, chats, brand_admin):
    _member, conv, ids = chats["ours"]
    newest = as_admin.get(msgs(conv.pk), {"page_size": 2}).json()
    assert [m["id"] for m in newest["results"]] == [ids[4], ids[3]] and newest["count"] == 5
    older = as_admin.get(msgs(conv.pk), {"before": ids[3], "page_size": 2}).json()["results"]
    assert [m["id"] for m in older] == [ids[2], ids[1]]
    sync = as_admin.get(msgs(conv.pk), {"after": ids[1]}).json()["results"]
    assert [m["id"] for m in sync] == ids[2:]
    assert sync[0]["body"] == "ours2" and sync[0]["sender"] == "member" and sync[0]["has_image"] is False
    with brand_scope(conv.brand):
        reads = AuditLog.objects.filter(action="messaging.conversation_read", target_id=str(conv.pk))
        assert reads.count() == 3 and {r.actor_id for r in reads} == {brand_admin.user_id}


def test_another_brands_conversation_is_404(as_admin, chats):
    _member, theirs, _ids = chats["theirs"]
    api_error(as_admin.get(msgs(theirs.pk)), 404)
    api_error(send_json(as_admin, msgs(theirs.pk), {"body": "hi"}, key="k"), 404)
    api_error(send_json(as_admin, f"/api/v1/members/{chats['theirs'][0].pk}/messages/", {"body": "hi"}), 404)
    with brand_scope(theirs.brand):
        assert Message.objects.filter(conversation=theirs).count() == 5


def test_guides_and_store_managers_may_not(client, guide, store_manager, chats):
    for staff in (guide, store_manager):
        login_as(client, staff)
        api_error(client.get(CONVS), 403)
        api_error(client.get(msgs(chats["ours"][1].pk)), 403)


def test_sending_as_the_brand_once_per_key(as_admin, chats, brand_admin):
    member, conv, _ids = chats["ours"]
    first = send_json(as_admin, msgs(conv.pk), {"body": " 新品到店 "}, key="k-1", commit=True)
    again = send_json(as_admin, msgs(conv.pk), {"body": " 新品到店 "}, key="k-1", commit=True)
    assert first.status_code == 201, first.content
    assert again.status_code == 201 and again.json() == first.json()
    body = first.json()
    assert (body["sender"], body["body"], body["staff"]) == ("brand", "新品到店", brand_admin.pk)
    api_error(send_json(as_admin, msgs(conv.pk), {"body": "另一条"}, key="k-1"), 409)
    by_member = send_json(as_admin, f"/api/v1/members/{member.pk}/messages/", {"body": "再见"}, key="k-2")
    assert by_member.status_code == 201 and by_member.json()["conversation"] == conv.pk
    with brand_scope(conv.brand):
        assert list(
            Message.objects.filter(conversation=conv, sender="brand").values_list("body", flat=True)
        ) == ["新品到店", "再见"]


def test_a_member_without_a_conversation_gets_one(as_admin, brand):
    member = MemberFactory(brand=brand)
    resp = send_json(as_admin, f"/api/v1/members/{member.pk}/messages/", {"body": "欢迎"})
    assert resp.status_code == 201, resp.content
    assert as_admin.get(CONVS, {"member": member.pk}).json()["count"] == 1


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"body": ""},
        {"body": "   "},
        {"body": "x" * 1001},
        {"body": "\x00\x00"},  # NULs are cleaned out of every body: nothing is left
        {"body": ["list"]},
        {"body": {"x": 1}},
        '{"body": ',
        "[]",
    ],
)
def test_bad_bodies_are_400_and_store_nothing(as_admin, chats, data):
    _member, conv, _ids = chats["ours"]
    api_error(send_json(as_admin, msgs(conv.pk), data), 400)
    with brand_scope(conv.brand):
        assert Message.objects.filter(conversation=conv).count() == 5


def test_a_partner_reads_with_messages_read_and_sends_with_messages_write(client, brand, brand_admin, chats):
    _member, conv, _ids = chats["ours"]
    reader, secret = make_app(brand, brand_admin, scopes=["messages:read"])
    token = get_token(client, reader, secret)
    assert client.get(CONVS, **bearer(token)).json()["count"] == 1
    assert client.get(msgs(conv.pk), **bearer(token)).json()["count"] == 5
    denied = client.post(msgs(conv.pk), {"body": "hi"}, content_type="application/json", **bearer(token))
    api_error(denied, 403, "insufficient_scope")
    writer, wsecret = make_app(brand, brand_admin, scopes=["messages:write"], name="客服系统")
    wtoken = get_token(client, writer, wsecret)
    sent = client.post(
        msgs(conv.pk),
        {"body": "您好"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="p1",
        **bearer(wtoken),
    )
    assert sent.status_code == 201, sent.content
    assert sent.json()["sender"] == "brand"
    api_error(client.get(CONVS, **bearer(wtoken)), 403, "insufficient_scope")
