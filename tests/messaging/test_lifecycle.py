"""Conversations follow the member: a hand-over keeps every message and tells the member who the new
guide is; the old guide loses access at once; a merge moves the absorbed member's messages to the
survivor's conversation and its undo moves exactly those back; someone who left has their chat
sockets closed."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.exceptions import PermissionDenied

from guides.messaging import conversations as svc
from guides.messaging import handover, lifecycle, realtime
from guides.messaging.models import Conversation, GuideNote, Message
from members import services as member_services
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def guide2(brand, store):
    return StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="王芳")


def _chat(brand, member, guide, n=3):
    conv = svc.conversation_for_member(brand=brand, member=member)
    for i in range(n):
        svc.message_send(brand=brand, conversation=conv, sender="member", body=f"问{i}")
        svc.message_send(brand=brand, conversation=conv, sender="guide", staff=guide, body=f"答{i}")
    return conv


def _messages(brand, conv) -> list[int]:
    with brand_scope(brand):
        return list(Message.objects.filter(conversation=conv).order_by("id").values_list("id", flat=True))


def _handover(brand, brand_admin, guide, guide2, capture):
    with capture(execute=True):
        return member_services.members_handover(
            brand=brand, manager=brand_admin, actor=Actor.system(), from_guide=guide, to_guide=guide2
        )


def test_hand_over_keeps_every_message_and_tells_the_member(
    brand, brand_admin, guide, guide2, django_capture_on_commit_callbacks
):
    members = [MemberFactory(brand=brand, guide=guide) for _ in range(3)]
    convs = [_chat(brand, m, guide) for m in members[:2]]  # the third has no conversation yet
    before = {c.pk: _messages(brand, c) for c in convs}
    assert _handover(brand, brand_admin, guide, guide2, django_capture_on_commit_callbacks) == 3
    for conv in convs:
        after = _messages(brand, conv)
        assert after[: len(before[conv.pk])] == before[conv.pk]  # nothing lost, order kept
        assert len(after) == len(before[conv.pk]) + 1
        # The old guide loses access at once; the new one opens the whole history.
        with pytest.raises(PermissionDenied):
            svc.guide_conversation(brand=brand, staff=guide, pk=conv.pk)
        assert svc.guide_conversation(brand=brand, staff=guide2, pk=conv.pk).pk == conv.pk
    with brand_scope(brand):
        notices = list(Message.objects.filter(sender="system", kind="notice").select_related("conversation"))
        assert sorted(n.conversation.member_id for n in notices) == sorted(m.pk for m in members)
        assert all(n.body == "您的专属导购已更换为王芳。" for n in notices)
        conv = Conversation.objects.get(pk=convs[0].pk)
    assert (conv.last_sender, conv.last_preview, conv.member_unread) == ("system", notices[0].body, 2)


def test_a_retried_notice_is_stored_once_and_join_needs_none(brand, guide, guide2, brand_admin):
    member = MemberFactory(brand=brand, guide=guide)
    _chat(brand, member, guide, n=1)
    with brand_scope(brand):
        member_services.members_handover(
            brand=brand, manager=brand_admin, actor=Actor.system(), from_guide=guide, to_guide=guide2
        )  # the outbox's notice is not run here (no commit): the task is called by hand below
    payload = {
        "member_ids": [member.pk],
        "guide_id": guide2.pk,
        "previous_guide_id": guide.pk,
        "reason": "handover",
    }
    assert handover.guide_changed(brand=brand, payload=payload) == 1
    assert handover.guide_changed(brand=brand, payload=payload) == 0  # a task retry
    lifecycle.guide_changed(brand=brand, payload=payload)
    assert handover.guide_changed(brand=brand, payload={**payload, "reason": "join"}) == 0
    with brand_scope(brand):
        assert Message.objects.filter(sender="system").count() == 1
        assert Conversation.objects.get(member=member).member_unread == 2  # the guide's answer + the notice


def test_a_stale_event_for_a_member_who_moved_on_stores_nothing(brand, guide, guide2):
    member = MemberFactory(brand=brand, guide=guide)
    payload = {"member_ids": [member.pk], "guide_id": guide2.pk, "previous_guide_id": None, "reason": "admin"}
    assert handover.guide_changed(brand=brand, payload=payload) == 0
    with brand_scope(brand):
        assert not Message.objects.exists()


def test_another_brands_guide_tells_no_one(brand, guide, other_brand, other_store):
    member = MemberFactory(brand=brand, guide=guide)
    theirs = StaffFactory(brand=other_brand, role=Staff.Role.GUIDE, stores=[other_store])
    for guide_id in (theirs.pk, guide.pk):
        payload = {"member_ids": [member.pk], "guide_id": guide_id, "reason": "admin"}
        assert handover.guide_changed(brand=other_brand, payload=payload) == 0
    assert handover.guide_changed(brand=brand, payload={**payload, "guide_id": theirs.pk}) == 0
    with brand_scope(brand):
        assert not Message.objects.exists()


def test_a_big_hand_over_is_set_based(brand, brand_admin, guide, guide2, django_assert_max_num_queries):
    members = MemberFactory.create_batch(60, brand=brand, guide=guide)
    with brand_scope(brand):
        member_services.members_handover(
            brand=brand, manager=brand_admin, actor=Actor.system(), from_guide=guide, to_guide=guide2
        )
    payload = {"member_ids": [m.pk for m in members], "guide_id": guide2.pk, "reason": "handover"}
    with django_assert_max_num_queries(20):  # 60 members, a constant number
        assert handover.guide_changed(brand=brand, payload=payload) == 60


def test_merge_moves_the_messages_and_undo_moves_exactly_those_back(brand, brand_admin, guide, guide2):
    survivor = MemberFactory(brand=brand, guide=guide)
    absorbed = MemberFactory(brand=brand, guide=guide2)
    mine, theirs = _chat(brand, survivor, guide, n=2), _chat(brand, absorbed, guide2, n=3)
    # The same mass message reached both (one client id per conversation).
    for conv in (mine, theirs):
        svc.message_send(brand=brand, conversation=conv, sender="brand", body="上新", client_id="bc:7")
    svc.message_send(brand=brand, conversation=theirs, sender="member", body="还在吗")
    with brand_scope(brand):
        note = GuideNote.objects.create(brand=brand, staff=guide2, member=absorbed, body="喜欢蓝色")
    mine_ids, theirs_ids = _messages(brand, mine), _messages(brand, theirs)
    record = member_services.members_merge(
        brand=brand, survivor=survivor, absorbed=absorbed, actor=Actor(), reason="same phone"
    )
    assert _messages(brand, mine) == sorted(mine_ids + theirs_ids)
    assert _messages(brand, theirs) == []
    with brand_scope(brand):
        merged = Conversation.objects.get(pk=theirs.pk)
        conv = Conversation.objects.get(pk=mine.pk)
        assert merged.status == "merged"
        assert conv.last_preview == "还在吗" and conv.guide_unread == 1
        assert GuideNote.objects.get(pk=note.pk).member_id == survivor.pk
    # The survivor's guide opens both histories; the absorbed conversation is closed.
    assert svc.guide_conversation(brand=brand, staff=guide, pk=mine.pk)
    with pytest.raises(PermissionDenied):
        svc.guide_conversation(brand=brand, staff=guide2, pk=theirs.pk)
    svc.message_send(brand=brand, conversation=conv, sender="member", body="合并后")
    member_services.merge_undo(brand=brand, manager=brand_admin, actor=Actor(), record=record)
    after_mine = _messages(brand, mine)
    assert _messages(brand, theirs) == theirs_ids
    assert after_mine[:-1] == mine_ids and len(after_mine) == len(mine_ids) + 1  # + the one after
    with brand_scope(brand):
        back = Conversation.objects.get(pk=theirs.pk)
        assert back.status == "open" and back.last_preview == "还在吗" and back.guide_unread == 1
        assert Message.objects.filter(conversation=back, client_id="bc:7").count() == 1
        assert Conversation.objects.get(pk=mine.pk).last_preview == "合并后"
        assert GuideNote.objects.get(pk=note.pk).member_id == absorbed.pk


def test_merge_of_a_member_without_a_conversation_changes_nothing(brand, brand_admin, guide):
    survivor, absorbed = MemberFactory(brand=brand, guide=guide), MemberFactory(brand=brand)
    conv = _chat(brand, survivor, guide, n=1)
    ids = _messages(brand, conv)
    record = member_services.members_merge(
        brand=brand, survivor=survivor, absorbed=absorbed, actor=Actor(), reason="same phone"
    )
    assert record.moved["hooks"]["messaging"]["messages"] == []
    member_services.merge_undo(brand=brand, manager=brand_admin, actor=Actor(), record=record)
    assert _messages(brand, conv) == ids


@pytest.mark.usefixtures("in_memory_channel_layer")
def test_someone_who_left_has_their_chat_sockets_closed(brand, guide):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(realtime.chat_staff_group(brand.pk, guide.pk), channel)
    lifecycle.staff_left(brand=brand, staff_id=guide.pk)
    assert async_to_sync(layer.receive)(channel) == {"type": "chat.close", "code": 4403}
