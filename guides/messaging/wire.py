"""What a message and a conversation look like on the chat socket and in the JSON endpoints."""

from __future__ import annotations

from guides.messaging.models import Conversation, Message


def message(msg: Message, *, staff_name: str = "") -> dict:
    """The message as both sides receive it (image links are added per side by the pages)."""
    return {
        "id": msg.pk,
        "conversation": msg.conversation_id,
        "sender": msg.sender,
        "kind": msg.kind,
        "body": msg.body,
        "data": msg.data,
        "has_image": bool(msg.image),
        "staff_name": staff_name,
        "client_id": msg.client_id,
        "created_at": msg.created_at.isoformat(),
    }


def conversation(conv: Conversation, *, side: str) -> dict:
    return {
        "id": conv.pk,
        "member": conv.member_id,
        "unread": conv.guide_unread if side == "guide" else conv.member_unread,
        "last_message_at": conv.last_message_at.isoformat() if conv.last_message_at else None,
        "last_preview": conv.last_preview,
        "last_sender": conv.last_sender,
        "guide_read_upto": conv.guide_read_upto,
        "member_read_upto": conv.member_read_upto,
        "member_delivered_upto": conv.member_delivered_upto,
        "blocked": conv.blocked_at is not None,
    }
