"""Auto-reply when the guide is off shift, not clocked in, or busy: once per quiet period.

A quiet period is named by a key stored on the conversation (``auto_reply_key``):

* ``busy:<busy_since>`` while the guide has marked herself busy (a new busy toggle is a new period);
* ``absent:<shift start>`` on shift but not clocked in;
* ``off:<end of her last shift>`` off shift (else ``off:<next shift start>``, else
  ``off:<local date>`` when no shift is near): the night after a shift is one period, across
  midnight.

The key is written with a conditional UPDATE (``… WHERE auto_reply_key <> key``) in the member
message's transaction: of two member messages at once, the second waits on the row and then
finds the key set, so one auto-reply is sent. The guide writing clears the key
(``conversations.message_send``), so the next quiet period replies again. The reply is stored as
sender ``auto`` with ``staff`` = the guide (it is her text, in her name)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from attendance.presence import presence
from guides.messaging.conversations import message_send, settings_get
from guides.messaging.models import Conversation, GuideChatSettings, Message
from members.models import Member
from retail.models import Brand, Staff
from retail.tenancy import brand_scope


def _stamp(at: datetime) -> str:
    return str(int(at.timestamp() * 1_000_000))  # microseconds: a busy toggled twice in a second differs


def quiet_key(*, brand: Brand, staff_id: int, busy_since: datetime | None, at: datetime | None = None) -> str:
    """The key of the guide's quiet period at ``at``, or '' when she is available."""
    if busy_since is not None:
        return f"busy:{_stamp(busy_since)}"
    at = at or timezone.now()
    p = presence(brand=brand, staff_id=staff_id, at=at)
    if p["on_shift"]:
        return "" if p["clocked_in"] else f"absent:{_stamp(p['shift_starts'])}"
    if p["clocked_in"] and not p["scheduled"]:
        return ""  # working without a shift today: she is there
    if p["last_shift_ended"] is not None:
        return f"off:{_stamp(p['last_shift_ended'])}"
    if p["shift_starts"] is not None:
        return f"off:next:{_stamp(p['shift_starts'])}"
    return f"off:day:{timezone.localdate(at).isoformat()}"


def maybe_reply(*, brand: Brand, conversation: Conversation, message: Message) -> Message | None:
    """After a member's message: send the auto-reply if the guide is quiet and this conversation
    has not had one in this quiet period. Returns the reply, or None."""
    if message.sender != Message.Sender.MEMBER:
        return None
    with brand_scope(brand):
        guide_id = (
            Member.objects.for_brand(brand)
            .filter(pk=conversation.member_id)
            .values_list("guide_id", flat=True)
            .first()
        )
        if guide_id is None:
            return None
        own = GuideChatSettings.objects.for_brand(brand).filter(staff_id=guide_id).first()
        key = quiet_key(brand=brand, staff_id=guide_id, busy_since=own.busy_since if own else None)
        if not key:
            return None
        claimed = (
            Conversation.objects.for_brand(brand)
            .filter(pk=conversation.pk)
            .exclude(auto_reply_key=key)
            .update(auto_reply_key=key)
        )
        if not claimed:
            return None
        text = (own.auto_reply_text if own else "") or settings_get(brand=brand).auto_reply_text
        if not text.strip():
            return None
        guide = Staff.objects.for_brand(brand).filter(pk=guide_id).first()
        sent = message_send(
            brand=brand,
            conversation=conversation,
            sender=Message.Sender.AUTO,
            staff=guide,
            body=text,
            data={"reason": key.split(":", 1)[0]},
            client_id=f"auto:{message.pk}",
        )
    return sent.message
