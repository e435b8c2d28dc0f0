"""The welcome message when a shopper joins: the brand's template with the guide's name.

It is stored as sender ``auto`` with ``staff`` = the guide: it is written in her name (the
template says "I am {guide}") and shows as hers, yet it is not counted as something she wrote
(her replies, her read mark and the auto-reply's quiet period are untouched). Its ``client_id``
is ``welcome``: a retried task, or a second join event, finds it stored and sends nothing."""

from __future__ import annotations

from guides.messaging.conversations import conversation_for_member, message_send, settings_get
from guides.messaging.models import Message
from members.models import Member
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

WELCOME_CLIENT_ID = "welcome"


def render_welcome(template: str, guide_name: str) -> str:
    """``{guide}`` replaced by the name; nothing else in the text is read as a placeholder."""
    return (template or "").replace("{guide}", guide_name or "")


def member_joined(*, brand: Brand, member_id: int, guide_id: int | None = None) -> Message | None:
    """Open the new member's conversation and welcome them from their guide (the member's guide
    now: a hand-over before the task ran means the new guide). Without a guide, or for a member
    who is gone, the conversation is opened without a welcome."""
    with brand_scope(brand):
        member = Member.objects.for_brand(brand).filter(pk=member_id).first()
        if member is None or not member.is_active:
            return None
        conv = conversation_for_member(brand=brand, member=member)
        if member.guide_id is None:
            return None
        guide = Staff.objects.for_brand(brand).filter(pk=member.guide_id).first()
        if guide is None:
            return None
        text = render_welcome(settings_get(brand=brand).welcome_template, guide.name).strip()
        if not text:
            return None
        sent = message_send(
            brand=brand,
            conversation=conv,
            sender=Message.Sender.AUTO,
            staff=guide,
            body=text,
            data={"reason": "welcome"},
            client_id=WELCOME_CLIENT_ID,
        )
    return sent.message
