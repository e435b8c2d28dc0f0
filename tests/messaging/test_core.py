"""The core write path: one conversation per member, messages, unread counts, read marks."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from guides.messaging import conversations as svc
from guides.messaging.models import BODY_MAX, Conversation, Message
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(brand, guide):
    return MemberFactory(brand=brand, guide=guide)


def test_one_conversation_per_member(brand, member):
    a = svc.conversation_for_member(brand=brand, member=member)
    b = svc.conversation_for_member(brand=brand, member=member)
    assert a.pk == b.pk
    with brand_scope(brand):
        assert Conversation.objects.for_brand(brand).filter(member=member).count() == 1


def test_member_message_counts_unread_for_the_guide_and_read_clears_it(brand, member, guide):
    conv = svc.conversation_for_member(brand=brand, member=member)
    m1 = svc.message_send(brand=brand, conversation=conv, sender="member", body="你好").message
    svc.message_send(brand=brand, conversation=conv, sender="member", body="在吗")
    with brand_scope(brand):
        conv.refresh_from_db()
    assert (conv.guide_unread, conv.last_preview, conv.last_sender) == (2, "在吗", "member")
    assert svc.conversation_read(brand=brand, conversation=conv, side="guide", upto=m1.pk) == m1.pk
    with brand_scope(brand):
        conv.refresh_from_db()
    assert conv.guide_unread == 1
    svc.message_send(brand=brand, conversation=conv, sender="guide", staff=guide, body="在的")
    with brand_scope(brand):
        conv.refresh_from_db()
    assert (conv.guide_unread, conv.member_unread) == (0, 1)


def test_a_resent_client_id_is_stored_once(brand, member):
    conv = svc.conversation_for_member(brand=brand, member=member)
    first = svc.message_send(brand=brand, conversation=conv, sender="member", body="hi", client_id="c-1")
    again = svc.message_send(brand=brand, conversation=conv, sender="member", body="hi", client_id="c-1")
    assert first.created and not again.created and first.message.pk == again.message.pk
    with brand_scope(brand):
        assert Message.objects.for_brand(brand).filter(conversation=conv).count() == 1
        conv.refresh_from_db()
    assert conv.guide_unread == 1


@pytest.mark.parametrize("body", ["", "   ", "x" * (BODY_MAX + 1)])
def test_empty_or_long_text_is_refused(brand, member, body):
    conv = svc.conversation_for_member(brand=brand, member=member)
    with pytest.raises(ValidationError):
        svc.message_send(brand=brand, conversation=conv, sender="member", body=body)
    with brand_scope(brand):
        assert not Message.objects.for_brand(brand).exists()


def test_only_the_members_current_guide_may_open_it(brand, store, member, guide):
    conv = svc.conversation_for_member(brand=brand, member=member)
    assert svc.guide_conversation(brand=brand, staff=guide, pk=conv.pk).pk == conv.pk
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    with pytest.raises(PermissionDenied):
        svc.guide_conversation(brand=brand, staff=other, pk=conv.pk)
    guide.status, guide.left_on = Staff.Status.LEFT, datetime.date.today()
    with brand_scope(brand):
        guide.save(update_fields=["status", "left_on"])
    with pytest.raises(PermissionDenied):
        svc.guide_conversation(brand=brand, staff=guide, pk=conv.pk)
