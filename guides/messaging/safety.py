"""Safety: the shopper's rate limit and block, length limits, the brand's banned words, reports."""

from __future__ import annotations

from guides.messaging.models import Conversation
from retail.models import Brand


def check_member_message(*, brand: Brand, conversation: Conversation, body: str) -> None:
    """Raise ValidationError (with a code) if the shopper may not send this now."""


def check_staff_message(*, brand: Brand, conversation: Conversation, body: str) -> None:
    """Raise ValidationError if staff may not send this (banned words)."""
