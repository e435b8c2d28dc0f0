"""Auto-reply when the guide is off shift, not clocked in, or busy: once per quiet period."""

from __future__ import annotations

from guides.messaging.models import Conversation, Message
from retail.models import Brand


def maybe_reply(*, brand: Brand, conversation: Conversation, message: Message) -> Message | None:
    return None
