"""The welcome message on joining: from the brand's template with the guide's name, once."""

import pytest

from guides.messaging import conversations as svc
from guides.messaging import lifecycle, tasks
from guides.messaging.models import Conversation, Message
from retail.tenancy import brand_scope
from tests.factories import MemberFactory
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db


def test_join_opens_the_conversation_with_a_welcome_from_the_guide(brand, guide):
    member = MemberFactory(brand=brand, guide=guide)
    lifecycle.member_joined(brand=brand, member_id=member.pk, guide_id=guide.pk)
    with brand_scope(brand):
        conv = Conversation.objects.for_brand(brand).get(member=member)
        [msg] = Message.objects.for_brand(brand).filter(conversation=conv)
    assert msg.body == "您好，我是王芳，您的专属导购。有任何问题随时在这里找我。"
    assert (msg.sender, msg.staff_id, msg.client_id, msg.data) == (
        "auto",
        guide.pk,
        "welcome",
        {"reason": "welcome"},
    )
    refresh(conv)
    assert conv.member_unread == 1 and conv.auto_reply_key == ""


def test_a_retried_task_does_not_welcome_twice(brand, guide):
    member = MemberFactory(brand=brand, guide=guide)
    tasks.member_joined.delay(brand.pk, member.pk, guide.pk)
    tasks.member_joined.delay(brand.pk, member.pk, guide.pk)
    with brand_scope(brand):
        assert Message.objects.for_brand(brand).filter(conversation__member=member).count() == 1


def test_brand_template_and_braces_are_safe(brand, guide):
    row = svc.settings_get(brand=brand)
    row.welcome_template = "欢迎！{guide} 为您服务 {other} {0}"
    with brand_scope(brand):
        row.save()
    member = MemberFactory(brand=brand, guide=guide)
    lifecycle.member_joined(brand=brand, member_id=member.pk, guide_id=guide.pk)
    with brand_scope(brand):
        assert (
            Message.objects.for_brand(brand).get(conversation__member=member).body
            == "欢迎！王芳 为您服务 {other} {0}"
        )


def test_no_guide_opens_the_conversation_without_a_welcome(brand):
    member = MemberFactory(brand=brand, guide=None)
    lifecycle.member_joined(brand=brand, member_id=member.pk, guide_id=None)
    with brand_scope(brand):
        assert Conversation.objects.for_brand(brand).filter(member=member).exists()
        assert not Message.objects.for_brand(brand).exists()


def test_other_brands_member_id_does_nothing(brand, other_brand, guide):
    member = MemberFactory(brand=other_brand)
    lifecycle.member_joined(brand=brand, member_id=member.pk, guide_id=guide.pk)
    with brand_scope(brand):
        assert not Conversation.objects.for_brand(brand).exists()
    with brand_scope(other_brand):
        assert not Conversation.objects.for_brand(other_brand).exists()
