"""A member's erasure blanks their conversation in the same transaction."""

import pytest
from django.core.files.base import ContentFile

from guides.messaging import conversations, sending
from guides.messaging.models import Conversation, GuideNote, Message
from members import services as member_services
from retail.events import Actor
from retail.private_files import private_storage
from retail.tenancy import brand_scope
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_erasing_a_member_blanks_their_messages_notes_and_images(
    brand, guide, django_capture_on_commit_callbacks
):
    member = MemberFactory(brand=brand, guide=guide)
    other = MemberFactory(brand=brand, guide=guide)
    conv = conversations.conversation_for_member(brand=brand, member=member)
    sending.send_as_member(brand=brand, member=member, body="我的地址是幸福路 8 号")
    conversations.message_send(
        brand=brand,
        conversation=conv,
        sender="guide",
        staff=guide,
        kind="image",
        image=ContentFile(b"\xff\xd8\xff\xe0 not really a photo", name="a.jpg"),
    )
    sending.send_as_member(brand=brand, member=other, body="别人的消息")
    with brand_scope(brand):
        GuideNote.objects.create(brand=brand, staff=guide, member=member, body="喜欢玫瑰香")
        image = Message.objects.get(conversation=conv, kind="image").image.name
    assert private_storage().exists(image)

    with django_capture_on_commit_callbacks(execute=True):
        member_services.member_erase(brand=brand, member=member, actor=Actor.system(), source="staff")

    with brand_scope(brand):
        rows = list(Message.objects.filter(conversation=conv).values("body", "data", "image"))
        assert rows and all(r == {"body": "", "data": {}, "image": ""} for r in rows)
        assert Conversation.objects.get(pk=conv.pk).last_preview == ""
        assert not GuideNote.objects.filter(member=member).exists()
        assert Message.objects.filter(conversation__member=other, body="别人的消息").exists()
    assert not private_storage().exists(image)
