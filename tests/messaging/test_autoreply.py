"""Auto-reply: when the guide is busy, off shift or not clocked in; once per quiet period."""

from datetime import datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from attendance.models import Punch, Schedule, ShiftTemplate
from guides.messaging import autoreply, productivity, sending
from guides.messaging import conversations as svc
from guides.messaging.models import Conversation, Message
from retail.tenancy import brand_scope
from tests.factories import MemberFactory
from tests.helpers.concurrency import race
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def member(brand, guide):
    return MemberFactory(brand=brand, guide=guide)


def autos(brand, member):
    with brand_scope(brand):
        return list(
            Message.objects.for_brand(brand).filter(conversation__member=member, sender="auto").order_by("id")
        )


def conv_of(brand, member):
    with brand_scope(brand):
        return Conversation.objects.for_brand(brand).get(member=member)


def on_shift_and_in(brand, store, guide, clocked_in=True):
    """A shift around now; clocked in (or not)."""
    now = timezone.now().astimezone(SH)
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    with brand_scope(brand):
        tmpl = ShiftTemplate.objects.create(brand=brand, store=store, name="班", start=start, end=end)
        day = now.date() if start < now.time() else now.date() - timedelta(days=1)
        Schedule.objects.create(brand=brand, store=store, staff=guide, date=day, shift=tmpl)
        if clocked_in:
            Punch.objects.create(
                brand=brand,
                store=store,
                staff=guide,
                source="phone_pin",
                occurred_at=datetime.combine(day, start, tzinfo=SH) + timedelta(minutes=1),
            )


def test_off_shift_replies_once_per_quiet_period(brand, member, guide):
    sending.send_as_member(brand=brand, member=member, body="在吗")
    sending.send_as_member(brand=brand, member=member, body="你好？")
    replies = autos(brand, member)
    assert len(replies) == 1
    assert replies[0].body == "我正在店里服务顾客，稍后回复您。" and replies[0].staff_id == guide.pk
    conv = conv_of(brand, member)
    assert conv.auto_reply_key.startswith("off:")
    # The guide writes: the quiet period ends. While she is chatting (10 minutes after she wrote)
    # the shopper's answers get no auto-reply, off shift or not; after that a quiet time replies again.
    sending.send_as_guide(brand=brand, staff=guide, conversation_id=conv.pk, body="我在")
    refresh(conv)
    assert conv.auto_reply_key.startswith("wrote:")
    sending.send_as_member(brand=brand, member=member, body="还有个问题")
    assert len(autos(brand, member)) == 1
    later = timezone.now() + timedelta(seconds=autoreply.GUIDE_ACTIVE_SECONDS + 1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        sending.send_as_member(brand=brand, member=member, body="您还在吗？")
    assert len(autos(brand, member)) == 2


def test_available_guide_sends_no_auto_reply(brand, store, member, guide):
    on_shift_and_in(brand, store, guide)
    sending.send_as_member(brand=brand, member=member, body="在吗")
    assert autos(brand, member) == []


def test_on_shift_not_clocked_in_replies(brand, store, member, guide):
    on_shift_and_in(brand, store, guide, clocked_in=False)
    sending.send_as_member(brand=brand, member=member, body="在吗")
    [reply] = autos(brand, member)
    assert reply.data == {"reason": "absent"}


def test_busy_uses_her_own_text_and_a_new_busy_is_a_new_period(brand, store, member, guide):
    on_shift_and_in(brand, store, guide)
    productivity.guide_auto_reply_set(brand=brand, staff=guide, text="开会中，一小时后回复")
    productivity.busy_set(brand=brand, staff=guide, busy=True)
    sending.send_as_member(brand=brand, member=member, body="1")
    sending.send_as_member(brand=brand, member=member, body="2")
    replies = autos(brand, member)
    assert [r.body for r in replies] == ["开会中，一小时后回复"] and replies[0].data == {"reason": "busy"}
    productivity.busy_set(brand=brand, staff=guide, busy=False)
    sending.send_as_member(brand=brand, member=member, body="3")
    assert len(autos(brand, member)) == 1  # available again: nothing
    productivity.busy_set(brand=brand, staff=guide, busy=True)
    sending.send_as_member(brand=brand, member=member, body="4")
    assert len(autos(brand, member)) == 2


def test_brand_text_when_she_has_none(brand, member):
    row = svc.settings_get(brand=brand)
    row.auto_reply_text = "导购下班了，明天回复您"
    with brand_scope(brand):
        row.save()
    sending.send_as_member(brand=brand, member=member, body="hi")
    assert [r.body for r in autos(brand, member)] == ["导购下班了，明天回复您"]


def test_member_without_a_guide_gets_nothing(brand):
    member = MemberFactory(brand=brand, guide=None)
    sending.send_as_member(brand=brand, member=member, body="hi")
    assert autos(brand, member) == []


def test_only_member_messages_trigger_it(brand, member, guide):
    conv = svc.conversation_for_member(brand=brand, member=member)
    sent = svc.message_send(brand=brand, conversation=conv, sender="guide", staff=guide, body="hello")
    assert autoreply.maybe_reply(brand=brand, conversation=conv, message=sent.message) is None


def test_a_resent_member_message_does_not_reply_again(brand, member, guide):
    sending.send_as_member(brand=brand, member=member, body="在吗", client_id="c1")
    conv = conv_of(brand, member)
    svc.message_send(brand=brand, conversation=conv, sender="guide", staff=guide, body="?")
    sending.send_as_member(brand=brand, member=member, body="在吗", client_id="c1")  # a resend
    assert len(autos(brand, member)) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_member_messages_send_one_auto_reply(brand, member, guide):
    svc.conversation_for_member(brand=brand, member=member)

    def send(i):
        from django.db import transaction

        with transaction.atomic():
            return sending.send_as_member(brand=brand, member=member, body=f"消息{i}", client_id=f"c{i}")

    results, errors = race(6, send)
    assert errors == [] and len(results) == 6
    assert connection.vendor == "postgresql"
    assert len(autos(brand, member)) == 1
    with brand_scope(brand):
        assert (
            Message.objects.for_brand(brand).filter(conversation__member=member, sender="member").count() == 6
        )
