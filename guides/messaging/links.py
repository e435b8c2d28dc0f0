"""The signed link into a shopper's chat (for notices sent by SMS or WeChat): opening it logs that
member in at that brand and shows the chat. Signed with the project's secret, bound to the brand
and the member, valid ``LINK_MAX_AGE`` seconds."""

from __future__ import annotations

from django.core import signing
from django.urls import reverse

from members.models import Member
from retail.models import Brand

SALT = "guides.messaging.chat-link"
LINK_MAX_AGE = 7 * 24 * 3600


def chat_token(brand: Brand, member: Member) -> str:
    return signing.dumps({"b": brand.pk, "m": member.pk}, salt=SALT, compress=True)


def chat_link(brand: Brand, member: Member) -> str:
    """The chat page's absolute path with the member's signed token: /s/<slug>/chat/?t=..."""
    return f"{reverse('shopper-chat', args=[brand.slug])}?t={chat_token(brand, member)}"


def chat_token_read(token: str, *, brand: Brand, max_age: int = LINK_MAX_AGE) -> int | None:
    """The member id the token names at ``brand``; None if it is forged, expired or another brand's."""
    if not isinstance(token, str) or not token or len(token) > 300:
        return None
    try:
        value = signing.loads(token, salt=SALT, max_age=max_age)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(value, dict) or value.get("b") != brand.pk:
        return None
    member_id = value.get("m")
    return member_id if isinstance(member_id, int) and not isinstance(member_id, bool) else None
