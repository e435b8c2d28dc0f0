"""Auto-reply when the guide is off shift, not clocked in, or busy: once per quiet period.

A quiet period is named by a key stored on the conversation (``auto_reply_key``):

* ``busy:<busy_since>`` while the guide has marked herself busy (a new busy toggle is a new period);
* ``absent:<shift start>`` on shift but not clocked in;
* ``off:<end of her last shift>`` off shift (else ``off:<next shift start>``, else
  ``off:<local date>`` when no shift is near): the night after a shift is one period, across
  midnight.

The key is written with a conditional UPDATE (``… WHERE auto_reply_key <> key``) in the member
message's transaction: of two member messages at once, the second waits on the row and then
finds the key set, so one auto-reply is sent. The guide writing ends the period: the key becomes
``wrote:<when>`` (``conversations.message_send``); for ``GUIDE_ACTIVE_SECONDS`` after that she is
taken as there (she is chatting, whatever her shift says), then a quiet time replies again. The
reply is stored as sender ``auto`` with ``staff`` = the guide (it is her text, in her name)."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from attendance.presence import presence
from guides.messaging.conversations import guide_id_of, message_send, settings_cached
from guides.messaging.models import Conversation, GuideChatSettings, Message
from retail.cache import NearCache
from retail.models import Brand, Staff
from retail.tenancy import within_brand


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


# The guide's quiet state is read once per QUIET_CACHE_SECONDS, not on every shopper message: a
# shift that starts or ends is seen within that time; a busy toggle, a change of her text and a
# punch (guides.subscriptions.on_punch_recorded) drop it at once.
QUIET_CACHE_SECONDS = 30
# The process keeps its own copy for 3 s on top: the change is seen at once in the process that
# made it, and within 3 s in the others.
_near_quiet = NearCache(seconds=3)


def _quiet_cache_key(brand_id: int, staff_id: int) -> str:
    return f"chat:quiet:{brand_id}:{staff_id}"


def guide_changed(*, brand: Brand | int, staff_id: int) -> None:
    """Forget the guide's cached quiet state (now, and again after commit)."""
    key = _quiet_cache_key(brand if isinstance(brand, int) else brand.pk, staff_id)

    def drop():
        cache.delete(key)
        _near_quiet.delete(key)

    drop()
    transaction.on_commit(drop)


def quiet_state(*, brand: Brand, staff_id: int) -> tuple[str, str]:
    """(the key of her quiet period now, or '' when she is available; her own auto-reply text)."""
    key = _quiet_cache_key(brand.pk, staff_id)
    found = _near_quiet.get(key)
    if found is not None:
        return found
    found = cache.get(key)
    if isinstance(found, tuple) and len(found) == 2:
        _near_quiet.set(key, found)
        return found
    own = GuideChatSettings.objects.for_brand(brand).filter(staff_id=staff_id).first()
    state = (
        quiet_key(brand=brand, staff_id=staff_id, busy_since=own.busy_since if own else None),
        own.auto_reply_text if own else "",
    )
    cache.set(key, state, QUIET_CACHE_SECONDS)
    _near_quiet.set(key, state)
    return state


# After the guide writes in a conversation she is taken as there for this long (no auto-reply to
# the shopper's answer, whatever her shift says).
GUIDE_ACTIVE_SECONDS = 600


def _wrote_lately(current_key: str, at) -> bool:
    if not current_key.startswith("wrote:"):
        return False
    try:
        wrote = int(current_key.split(":", 1)[1])
    except ValueError:
        return False
    return 0 <= at.timestamp() - wrote < GUIDE_ACTIVE_SECONDS


def maybe_reply(*, brand: Brand, conversation: Conversation, message: Message) -> Message | None:
    """After a member's message: send the auto-reply if the guide is quiet and this conversation
    has not had one in this quiet period. Returns the reply, or None."""
    if message.sender != Message.Sender.MEMBER:
        return None
    with within_brand(brand):
        guide_id = guide_id_of(conversation)
        if guide_id is None:
            return None
        key, own_text = quiet_state(brand=brand, staff_id=guide_id)
        if not key or conversation.auto_reply_key == key:
            return None  # she is there, or this quiet period has had its reply
        if _wrote_lately(conversation.auto_reply_key, message.created_at):
            return None  # she is chatting in this conversation, on shift or not
        claimed = (
            Conversation.objects.for_brand(brand)
            .filter(pk=conversation.pk)
            .exclude(auto_reply_key=key)
            .update(auto_reply_key=key)
        )
        if not claimed:
            return None
        conversation.auto_reply_key = key
        text = own_text or settings_cached(brand=brand).auto_reply_text
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
