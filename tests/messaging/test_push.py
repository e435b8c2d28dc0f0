"""The guide's push: batched per window, one summary of what is unread, nothing once read."""

import pytest
from django.core.cache import cache
from django.test import TestCase

from guides.messaging import conversations, push, sending
from guides.push import LogPush
from retail import cache as shared_cache
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _pushes():
    LogPush.outbox.clear()
    yield
    LogPush.outbox.clear()


def write(brand, member, body):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return sending.send_as_member(brand=brand, member=member, body=body)


def test_many_messages_in_a_window_make_one_push_with_the_summary(brand, store, guide, settings):
    a, b = MemberFactory(brand=brand, guide=guide), MemberFactory(brand=brand, guide=guide)
    calls = []
    orig = push.enqueue_on_commit
    push.enqueue_on_commit = lambda *args, **kw: calls.append((args, kw))
    try:
        write(brand, a, "在吗")
        write(brand, a, "想问个问题")
        write(brand, b, "你好")
    finally:
        push.enqueue_on_commit = orig
    assert calls == [
        (
            ("guides.messaging.tasks.push_guide", brand.pk, guide.pk),
            {"countdown": settings.MESSAGING_PUSH_WINDOW_SECONDS},
        )
    ]
    assert push.push_guide(brand=brand, staff_id=guide.pk) is True
    [sent] = LogPush.outbox
    assert (sent["staff"], sent["link"]) == (guide.pk, "/m/messages/")
    assert "3" in sent["body"] and "2" in sent["body"]
    assert push.guide_badge(brand=brand, staff=guide) == {"messages": 3, "members": 2}


def test_the_window_ends_and_the_next_message_pushes_again(brand, guide, settings, monkeypatch):
    clock = [1_000.0]
    monkeypatch.setattr(shared_cache.time, "monotonic", lambda: clock[0])
    m = MemberFactory(brand=brand, guide=guide)
    write(brand, m, "一")  # eager: the task runs at once
    assert len(LogPush.outbox) == 1 and "1" in LogPush.outbox[0]["body"]
    write(brand, m, "二")  # same window: no second push
    assert len(LogPush.outbox) == 1
    # The window ends: its marker expires in the shared cache, and this process forgets it.
    clock[0] += settings.MESSAGING_PUSH_WINDOW_SECONDS
    cache.delete(push._marker(brand.pk, guide.pk))
    write(brand, m, "三")
    assert len(LogPush.outbox) == 2


def test_nothing_is_pushed_once_she_has_read_them(brand, guide):
    m = MemberFactory(brand=brand, guide=guide)
    conv = conversations.conversation_for_member(brand=brand, member=m)
    conversations.message_send(brand=brand, conversation=conv, sender="member", body="hi")
    conversations.conversation_read(brand=brand, conversation=conv, side="guide")
    assert push.push_guide(brand=brand, staff_id=guide.pk) is False
    assert LogPush.outbox == []


def test_no_push_for_a_guides_own_message_a_member_without_guide_or_a_guide_who_left(brand, store, guide):
    m = MemberFactory(brand=brand, guide=guide)
    conv = conversations.conversation_for_member(brand=brand, member=m)
    with TestCase.captureOnCommitCallbacks(execute=True):
        sending.send_as_guide(brand=brand, staff=guide, conversation_id=conv.pk, body="您好")
    write(brand, MemberFactory(brand=brand, guide=None), "没有导购")
    assert LogPush.outbox == []
    conversations.message_send(brand=brand, conversation=conv, sender="member", body="hi")
    with brand_scope(brand):
        Staff.objects.filter(pk=guide.pk).update(status=Staff.Status.LEFT, left_on="2026-01-01")
    assert push.push_guide(brand=brand, staff_id=guide.pk) is False


def test_other_guides_unread_is_not_counted(brand, store, guide):
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    conv = conversations.conversation_for_member(brand=brand, member=MemberFactory(brand=brand, guide=other))
    conversations.message_send(brand=brand, conversation=conv, sender="member", body="hi")
    assert push.guide_badge(brand=brand, staff=guide) == {"messages": 0, "members": 0}
    assert push.push_guide(brand=brand, staff_id=guide.pk) is False
