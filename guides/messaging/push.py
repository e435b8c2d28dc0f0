"""New shopper messages push to the guide through PUSH_BACKEND, batched.

The first shopper message in a quiet guide's window (``MESSAGING_PUSH_WINDOW_SECONDS``) sets a
cache marker for her and queues ``tasks.push_guide`` to run when the window ends; the messages that
follow within the window only find the marker. The task then sends ONE push summarising what is
still unread ("3 new messages from 2 members", link to the 消息 tab), or nothing if she has read
them meanwhile. The counts are the conversations' ``guide_unread``, the same numbers as the in-app
badges (``guide_badge``). A cache that cannot be reached fails open: every message queues its task
and each task still sends only what is unread."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from guides.messaging.conversations import guide_id_of
from guides.messaging.models import Conversation, Message
from guides.push import get_sender
from members.models import Member
from retail.cache import first_in_window
from retail.models import Brand, Staff
from retail.outbox import enqueue_on_commit
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)


def _marker(brand_id: int, staff_id: int) -> str:
    return f"chat-push:{brand_id}:{staff_id}"


def schedule(*, brand: Brand, conversation: Conversation, message: Message) -> None:
    """After a shopper's message: queue the guide's batched push, once per window."""
    if message.sender != Message.Sender.MEMBER:
        return
    guide_id = guide_id_of(conversation)
    if not guide_id:
        return
    window = settings.MESSAGING_PUSH_WINDOW_SECONDS
    # With the cache down every message queues its task: the task sends only what is unread.
    if first_in_window(_marker(brand.pk, guide_id), window):
        enqueue_on_commit("guides.messaging.tasks.push_guide", brand.pk, guide_id, countdown=window)


def guide_badge(*, brand: Brand, staff: Staff | int) -> dict:
    """The guide's unread messages and the members they come from (her open conversations)."""
    staff_id = staff if isinstance(staff, int) else staff.pk
    with brand_scope(brand):
        row = (
            Conversation.objects.for_brand(brand)
            .filter(
                member__guide_id=staff_id,
                member__status=Member.Status.ACTIVE,
                status=Conversation.Status.OPEN,
                guide_unread__gt=0,
                blocked_at__isnull=True,
            )
            .aggregate(messages=Sum("guide_unread"), members=Count("pk", filter=Q(guide_unread__gt=0)))
        )
    return {"messages": row["messages"] or 0, "members": row["members"] or 0}


def push_guide(*, brand: Brand, staff_id: int) -> bool:
    """Send the guide one push summarising her unread messages; False when there is none to send
    (she read them, she left)."""
    with brand_scope(brand):
        staff = (
            Staff.objects.for_brand(brand)
            .filter(pk=staff_id, status=Staff.Status.ACTIVE)
            .select_related("user")
            .first()
        )
    if staff is None:
        return False
    badge = guide_badge(brand=brand, staff=staff_id)
    if not badge["messages"]:
        return False
    with translation.override(getattr(staff.user, "language", "") or settings.LANGUAGE_CODE):
        messages = ngettext("%(n)d new message", "%(n)d new messages", badge["messages"]) % {
            "n": badge["messages"]
        }
        members = ngettext("from %(n)d member", "from %(n)d members", badge["members"]) % {
            "n": badge["members"]
        }
        title = _("Messages")
        body = f"{messages} {members}"
    try:
        get_sender().send(
            brand_id=brand.pk, staff_id=staff_id, title=title, body=body, link=reverse("messages-tab")
        )
    except Exception:  # the messages are there; the badge shows them when she opens the app
        logger.exception("push to staff %s failed", staff_id)
        return False
    return True
