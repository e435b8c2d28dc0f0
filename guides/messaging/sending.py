"""Who sends: the shopper, the guide, the brand. Each entry point checks its sender's rights and
limits, then stores through ``conversations.message_send``; follow-ups run after commit.

* shopper → safety (blocked, rate limit, banned words), then the auto-reply and the guide's push;
* guide → her access (she is the member's exclusive guide now), banned words, then the shopper's
  outbound notice if they do not read it on the page;
* brand (admins in the console, partners through the API) → banned words."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from guides.messaging import autoreply, cards, conversations, outbound, push, safety
from guides.messaging.conversations import Sent, conversation_for_member, guide_conversation, message_send
from guides.messaging.models import Conversation, Message
from members.models import Member
from retail.models import Brand, Staff
from retail.tenancy import within_brand


def send_as_member(
    *,
    brand: Brand,
    member: Member,
    body: str = "",
    kind: str = Message.Kind.TEXT,
    client_id: str = "",
    image=None,
    data: dict | None = None,
    conversation: Conversation | None = None,
) -> Sent:
    """The shopper writes to their guide (text, an image, or one of their own orders).
    ``conversation``: the member's, when the caller has it (loaded with ``member``)."""
    if not member.is_active or member.brand_id != brand.pk:
        raise ValidationError(_("This membership is closed."))
    if kind not in (Message.Kind.TEXT, Message.Kind.IMAGE, Message.Kind.ORDER):
        raise ValidationError(_("Unknown message."))
    with within_brand(brand):
        if conversation is not None and conversation.member_id == member.pk:
            conv = conversation
            conv.member = member
        else:
            conv = conversation_for_member(brand=brand, member=member)
        try:
            safety.check_member_message(brand=brand, conversation=conv, body=body)
        except ValidationError as exc:
            # A resend of a message stored before (a reconnect) is answered with it, limit or not.
            limited = getattr(exc, "code", None) == "rate_limited"
            found = stored(conv, Message.Sender.MEMBER, client_id) if limited else None
            if found is None:
                raise
            safety.uncount(brand, member.pk)
            return Sent(found, False)
        sent = message_send(
            brand=brand,
            conversation=conv,
            sender=Message.Sender.MEMBER,
            kind=kind,
            body=body,
            data=data,
            image=image,
            client_id=client_id,
        )
        if sent.created:
            autoreply.maybe_reply(brand=brand, conversation=conv, message=sent.message)
            push.schedule(brand=brand, conversation=conv, message=sent.message)
        else:  # a resend: it does not count toward the shopper's limit
            safety.uncount(brand, member.pk)
    return sent


def stored(conversation: Conversation, sender: str, client_id: str) -> Message | None:
    """The message this sender stored before under ``client_id`` in the conversation, if any."""
    if not client_id:
        return None
    return (
        Message.objects.filter(conversation=conversation, sender=sender, client_id=client_id[:40])
        .order_by("pk")
        .first()
    )


def send_as_guide(
    *,
    brand: Brand,
    staff: Staff,
    conversation_id: int,
    body: str = "",
    kind: str = Message.Kind.TEXT,
    client_id: str = "",
    image=None,
    target_id: int | None = None,
    conversation: Conversation | None = None,
) -> Sent:
    """The guide writes to one of her members: text, an image, or a card (``target_id``: the
    product, the coupon campaign or the member's order), which carries her share attribution.
    ``conversation``: that conversation with its member, when the caller read it in this
    transaction (the chat socket reads it with the brand and her state in one query)."""
    with within_brand(brand):
        if conversation is not None and conversation.pk == conversation_id:
            conv: Conversation = conversation
            conversations.check_guide_access(conv, staff)
        else:
            conv = guide_conversation(brand=brand, staff=staff, pk=conversation_id)
        safety.check_staff_message(brand=brand, conversation=conv, body=body)
        data = None
        if kind in (Message.Kind.PRODUCT, Message.Kind.COUPON, Message.Kind.ORDER):
            data = cards.build(brand=brand, staff=staff, conversation=conv, kind=kind, target_id=target_id)
        elif kind not in (Message.Kind.TEXT, Message.Kind.IMAGE):
            raise ValidationError(_("Unknown message."))
        sent = message_send(
            brand=brand,
            conversation=conv,
            sender=Message.Sender.GUIDE,
            staff=staff,
            kind=kind,
            body=body,
            data=data,
            image=image,
            client_id=client_id,
        )
        if sent.created:
            outbound.schedule(brand=brand, conversation=conv, message=sent.message)
    return sent


def send_as_brand(*, brand: Brand, staff: Staff, member: Member, body: str, client_id: str = "") -> Sent:
    """The brand writes to a member (an admin in the console, a partner app through the API)."""
    with within_brand(brand):
        conv = conversation_for_member(brand=brand, member=member)
        safety.check_staff_message(brand=brand, conversation=conv, body=body)
        sent = message_send(
            brand=brand,
            conversation=conv,
            sender=Message.Sender.BRAND,
            staff=staff,
            body=body,
            client_id=client_id,
        )
        if sent.created:
            outbound.schedule(brand=brand, conversation=conv, message=sent.message)
    return sent
