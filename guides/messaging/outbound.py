"""Reaching a shopper who is not on the page: SMS or a WeChat template message with a link back
into the chat, rate-limited per shopper."""

from __future__ import annotations

from guides.messaging.models import Conversation, Message
from retail.models import Brand


def schedule(*, brand: Brand, conversation: Conversation, message: Message) -> None:
    return None
