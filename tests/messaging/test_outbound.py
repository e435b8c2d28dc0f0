"""Notices to a shopper who has not read the guide's message: channel, consent, read, rate limit
(once under concurrency), the signed link back into the chat."""

import datetime

import pytest
from django.test import TestCase
from django.utils import timezone

from guides.messaging import conversations, links, outbound, sending
from guides.messaging.channels import SimulatedWeChatTemplate
from guides.messaging.models import Conversation, MessagingSettings
from members.models import MemberIdentity
from retail.notify import ConsoleSender
from retail.tenancy import brand_scope
from tests.factories import MemberFactory
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _outboxes():
    SimulatedWeChatTemplate.outbox.clear()
    yield
    SimulatedWeChatTemplate.outbox.clear()


@pytest.fixture
def member(brand, guide):
    return MemberFactory(brand=brand, guide=guide, marketing_consent=True, phone="13900001111")


@pytest.fixture
def conv(brand, member):
    return conversations.conversation_for_member(brand=brand, member=member)


def settings_set(brand, **kw):
    s = conversations.settings_get(brand=brand)
    with brand_scope(brand):
        MessagingSettings.objects.filter(pk=s.pk).update(**kw)


def guide_writes(brand, guide, conv, body="新品到了"):
    return conversations.message_send(
        brand=brand, conversation=conv, sender="guide", staff=guide, body=body
    ).message


def test_an_unread_message_sends_one_sms_with_the_signed_chat_link(brand, guide, member, conv, settings):
    msg = guide_writes(brand, guide, conv)
    assert outbound.notice_send(brand=brand, conversation_id=conv.pk, message_id=msg.pk) == "sent"
    [sms] = ConsoleSender.outbox
    assert sms["phone"] == "13900001111"
    assert guide.name in sms["text"] and brand.name in sms["text"]
    link = sms["text"].rsplit(" ", 1)[1]
    assert link.startswith(settings.SITE_URL.rstrip("/") + f"/s/{brand.slug}/chat/?t=")
    token = link.split("?t=", 1)[1]
    assert links.chat_token_read(token, brand=brand) == member.pk
    assert refresh(conv).last_notice_at is not None


def test_read_in_time_sends_nothing(brand, guide, conv):
    msg = guide_writes(brand, guide, conv)
    conversations.conversation_read(brand=brand, conversation=conv, side="member")
    assert outbound.notice_send(brand=brand, conversation_id=conv.pk, message_id=msg.pk) == "read"
    assert ConsoleSender.outbox == []


def test_at_most_one_notice_per_interval(brand, guide, conv):
    first = guide_writes(brand, guide, conv)
    assert outbound.notice_send(brand=brand, conversation_id=conv.pk, message_id=first.pk) == "sent"
    second = guide_writes(brand, guide, conv, "还在吗")
    assert outbound.notice_send(brand=brand, conversation_id=conv.pk, message_id=second.pk) == "limited"
    with brand_scope(brand):
        Conversation.objects.filter(pk=conv.pk).update(
            last_notice_at=timezone.now() - datetime.timedelta(hours=5)
        )
    assert outbound.notice_send(brand=brand, conversation_id=conv.pk, message_id=second.pk) == "sent"
    assert len(ConsoleSender.outbox) == 2


def test_muted_members_get_notices_only_for_replies(brand, guide, member, conv):
    with brand_scope(brand):
        type(member).objects.filter(pk=member.pk).update(marketing_consent=False)
    msg = guide_writes(brand, guide, conv)
    assert outbound.notice_send(brand=brand, conversation_id=conv.pk, message_id=msg.pk) == "no_consent"
    conversations.message_send(brand=brand, conversation=conv, sender="member", body="这款有货吗")
    reply = guide_writes(brand, guide, conv, "有的")
    assert outbound.notice_send(brand=brand, conversation_id=conv.pk, message_id=reply.pk) == "sent"


def test_wechat_template_channel_and_off(brand, guide, member, conv):
    settings_set(brand, outbound_channel="wechat")
    msg = guide_writes(brand, guide, conv)
    assert outbound.notice_send(brand=brand, conversation_id=conv.pk, message_id=msg.pk) == "no_address"
    with brand_scope(brand):
        MemberIdentity.objects.create(brand=brand, member=member, kind="wechat", value="oOPENID1")
    assert outbound.notice_send(brand=brand, conversation_id=conv.pk, message_id=msg.pk) == "sent"
    [sent] = SimulatedWeChatTemplate.outbox
    assert sent["openid"] == "oOPENID1" and f"/s/{brand.slug}/chat/?t=" in sent["url"]
    assert ConsoleSender.outbox == []
    settings_set(brand, outbound_channel="off")
    assert outbound.notice_send(brand=brand, conversation_id=conv.pk, message_id=msg.pk) == "off"


def test_blocked_conversations_get_no_notice(brand, guide, conv):
    msg = guide_writes(brand, guide, conv)
    with brand_scope(brand):
        Conversation.objects.filter(pk=conv.pk).update(blocked_at=timezone.now(), blocked_by=guide)
    assert outbound.notice_send(brand=brand, conversation_id=conv.pk, message_id=msg.pk) == "closed"


def test_a_guides_message_schedules_the_check_after_the_delay_once(brand, guide, conv, settings, monkeypatch):
    calls = []
    monkeypatch.setattr(outbound, "enqueue_on_commit", lambda *a, **kw: calls.append((a, kw)))
    with TestCase.captureOnCommitCallbacks(execute=True):
        first = sending.send_as_guide(brand=brand, staff=guide, conversation_id=conv.pk, body="您好").message
        sending.send_as_guide(brand=brand, staff=guide, conversation_id=conv.pk, body="在吗")
    assert calls == [
        (
            ("guides.messaging.tasks.notice_member", brand.pk, conv.pk, first.pk),
            {"countdown": settings.MESSAGING_NOTICE_DELAY_SECONDS},
        )
    ]
