"""Reaching a shopper who is not on the page: SMS or a WeChat template message with a link back
into the chat, rate-limited per shopper.

After the guide (or the brand) writes, ``schedule`` queues ``tasks.notice_member`` to run after
``MESSAGING_NOTICE_DELAY_SECONDS`` (once per conversation per delay: a cache marker). The task
(``notice_send``) sends a notice through the brand's channel (``MessagingSettings.outbound_channel``,
adapters in ``channels.py``) only if:

* the shopper has not read that message by then (``member_read_upto``);
* the conversation is open, not blocked, the member active;
* the member gave marketing consent, OR wrote in this conversation within ``SERVICE_DAYS`` days:
  a reply to a shopper who asked is service, not marketing; a guide writing out of the blue to a
  member who muted marketing reaches them only on the page;
* no notice went to them within ``notice_every_minutes``: one conditional UPDATE of
  ``Conversation.last_notice_at`` claims the notice, so concurrent tasks send it once.

Mass messages never trigger notices (they are not sent through ``sending``)."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guides.messaging import channels, links
from guides.messaging.conversations import settings_get
from guides.messaging.models import Conversation, Message
from retail.cache import first_in_window
from retail.models import Brand
from retail.outbox import enqueue_on_commit
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)

SERVICE_DAYS = 30


def schedule(*, brand: Brand, conversation: Conversation, message: Message) -> None:
    """After a guide's or the brand's message: check back after the delay."""
    if message.sender not in (Message.Sender.GUIDE, Message.Sender.BRAND) or message.broadcast_id:
        return
    delay = settings.MESSAGING_NOTICE_DELAY_SECONDS
    # With the cache down every message queues its check: the rate limit in the database holds.
    if first_in_window(f"chat-notice:{brand.pk}:{conversation.pk}", delay):
        enqueue_on_commit(
            "guides.messaging.tasks.notice_member", brand.pk, conversation.pk, message.pk, countdown=delay
        )


def notice_send(*, brand: Brand, conversation_id: int, message_id: int) -> str:
    """Send the notice if it is due (see the module docstring); returns what happened."""
    ms = settings_get(brand=brand)
    channel = channels.channel_for(ms.outbound_channel)
    if channel is None:
        return "off"
    now = timezone.now()
    with brand_scope(brand), transaction.atomic():
        conv = (
            Conversation.objects.for_brand(brand)
            .select_related("member", "member__guide")
            .filter(pk=conversation_id)
            .first()
        )
        if (
            conv is None
            or conv.status != Conversation.Status.OPEN
            or conv.blocked_at
            or not conv.member.is_active
        ):
            return "closed"
        if conv.member_read_upto >= message_id:
            return "read"
        member = conv.member
        if not member.marketing_consent:
            asked = Message.objects.for_brand(brand).filter(
                conversation=conv,
                sender=Message.Sender.MEMBER,
                created_at__gte=now - datetime.timedelta(days=SERVICE_DAYS),
            )
            if not asked.exists():
                return "no_consent"
        address = channel.address(brand, member)
        if not address:
            return "no_address"
        since = now - datetime.timedelta(minutes=ms.notice_every_minutes)
        claimed = (
            Conversation.objects.for_brand(brand)
            .filter(pk=conv.pk)
            .filter(Q(last_notice_at__isnull=True) | Q(last_notice_at__lt=since))
            .update(last_notice_at=now)
        )
        if not claimed:
            return "limited"
    guide = member.guide.name if member.guide_id else brand.name
    with translation.override(settings.LANGUAGE_CODE):
        text = _("[%(brand)s] %(guide)s sent you a message. Open the chat:") % {
            "brand": brand.name,
            "guide": guide,
        }
    link = settings.SITE_URL.rstrip("/") + links.chat_link(brand, member)
    try:
        channel.send(brand=brand, member=member, address=address, text=text, link=link)
    except Exception:  # the message is in the chat; the next one may notify again after the interval
        logger.exception("notice to member %s failed", member.pk)
        return "failed"
    return "sent"
