"""The chat sockets' per-frame read in plain SQL (guides/messaging/socket_reads.py): the same
instances the ORM reads, and the same refusals."""

import pytest
from django.utils import timezone

from guides.messaging import conversations as svc
from guides.messaging import socket_reads
from guides.messaging.models import Conversation
from members.models import Member
from retail.models import Brand, Staff
from retail.tenancy import brand_scope, rls_bypass
from tests.factories import MemberFactory, StaffFactory

pytestmark = pytest.mark.django_db


def _values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


@pytest.fixture
def conv(brand, guide):
    member = MemberFactory(brand=brand, guide=guide, name="李娜")
    conv = svc.conversation_for_member(brand=brand, member=member)
    svc.message_send(brand=brand, conversation=conv, sender="member", body="在吗？")
    return conv


def test_the_guides_read_is_what_the_orm_reads(brand, guide, conv):
    with brand_scope(brand):
        got = socket_reads.guide_frame(brand_id=brand.pk, staff_id=guide.pk, conversation_id=conv.pk)
        want = Conversation.objects.select_related("brand", "member", "member__guide").get(pk=conv.pk)
    assert _values(got) == _values(want)
    assert _values(got.brand) == _values(want.brand)
    assert _values(got.member) == _values(want.member)
    assert _values(got.member.guide) == _values(want.member.guide)
    assert got.last_message_at is not None and got.last_message_at == want.last_message_at


def test_the_shoppers_read_is_what_the_orm_reads(brand, conv):
    with brand_scope(brand):
        got = socket_reads.shopper_frame(brand_id=brand.pk, member_id=conv.member_id, conversation_id=conv.pk)
        want = Conversation.objects.select_related("brand", "member").get(pk=conv.pk)
    assert _values(got) == _values(want) and _values(got.member) == _values(want.member)
    assert _values(got.brand) == _values(want.brand)


def test_the_guides_read_refuses_what_is_not_hers_now(brand, other_brand, store, guide, conv):
    def read(staff_id=guide.pk, pk=conv.pk, brand_id=brand.pk):
        with brand_scope(brand_id):
            return socket_reads.guide_frame(brand_id=brand_id, staff_id=staff_id, conversation_id=pk)

    other_guide = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    assert read() is not None
    assert read(staff_id=other_guide.pk) is None  # another guide of the brand
    assert read(brand_id=other_brand.pk) is None  # the id under another brand
    with brand_scope(brand):
        Conversation.objects.filter(pk=conv.pk).update(status=Conversation.Status.MERGED)
    assert read() is None  # merged into another member's
    with brand_scope(brand):
        Conversation.objects.filter(pk=conv.pk).update(status=Conversation.Status.OPEN)
        Staff.objects.filter(pk=guide.pk).update(status=Staff.Status.LEFT, left_on=timezone.localdate())
    assert read() is None  # she left
    with brand_scope(brand):
        Staff.objects.filter(pk=guide.pk).update(status=Staff.Status.ACTIVE, left_on=None)
        Member.objects.filter(pk=conv.member_id).update(guide=other_guide)
    assert read() is None  # handed over
    assert read(staff_id=other_guide.pk) is not None
    with rls_bypass(reason="test: suspend the brand"):
        Brand.objects.filter(pk=brand.pk).update(status=Brand.Status.SUSPENDED)
    assert read(staff_id=other_guide.pk) is None  # the brand is suspended


def test_the_shoppers_read_is_their_own_conversation_only(brand, guide, conv):
    other = MemberFactory(brand=brand, guide=guide)
    with brand_scope(brand):
        assert (
            socket_reads.shopper_frame(brand_id=brand.pk, member_id=other.pk, conversation_id=conv.pk) is None
        )
