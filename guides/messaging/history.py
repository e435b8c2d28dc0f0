"""Reads of the chat pages: the guide's inbox, her unread total, a page of a conversation's history."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, Sum

from guides.messaging.models import Conversation, Message
from members.labels import member_labels
from members.models import Member, MemberIdentity
from retail.models import Brand, Staff
from retail.tenancy import within_brand

INBOX_SIZE = 30
PAGE_SIZE = 30
SEARCH_MAX = 40


def _mine(brand: Brand | int, staff: Staff):
    return Conversation.objects.for_brand(brand).filter(
        status=Conversation.Status.OPEN,
        member__guide_id=staff.pk,
        member__status=Member.Status.ACTIVE,
    )


def guide_inbox(*, brand: Brand, staff: Staff, q: str = "", limit: int = INBOX_SIZE, offset: int = 0):
    """The guide's conversations, latest first, with ``label`` (the member in words); a search
    finds members by name or phone digits. Returns (rows, more)."""
    q = " ".join((q or "").replace("\x00", "").split())[:SEARCH_MAX]
    with within_brand(brand):
        qs = _mine(brand, staff).select_related("member")
        if q:
            by_phone = MemberIdentity.objects.for_brand(brand).filter(
                member_id=OuterRef("member_id"), kind=MemberIdentity.Kind.PHONE, value__contains=q
            )
            match = Q(member__name__icontains=q)
            if q.isdigit() and len(q) >= 4:
                match |= Q(Exists(by_phone))
            qs = qs.filter(match)
        rows = list(qs.order_by("-last_message_at", "-id")[offset : offset + limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        labels = member_labels([c.member for c in rows])
    for c in rows:
        c.label = labels.get(c.member_id, "")
    return rows, more


def guide_unread_total(*, brand: Brand | int, staff: Staff) -> int:
    """Unread messages across the guide's conversations (the 消息 tab's badge): one query."""
    with within_brand(brand):
        total = _mine(brand, staff).filter(guide_unread__gt=0).aggregate(n=Sum("guide_unread"))["n"]
    return int(total or 0)


def messages_unread(staff: Staff) -> int:
    """The 消息 tab's badge for the staff member acting now."""
    return guide_unread_total(brand=staff.brand_id, staff=staff)


def messages_page(
    *, brand: Brand, conversation: Conversation, before: int | None = None, size: int = PAGE_SIZE
):
    """Up to ``size`` messages before message id ``before`` (default: the latest), oldest first,
    and whether there are earlier ones."""
    with within_brand(brand):
        qs = Message.objects.for_brand(brand).filter(conversation=conversation).select_related("staff")
        if before:
            qs = qs.filter(id__lt=before)
        rows = list(qs.order_by("-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    rows.reverse()
    return rows, more


def message_with_image(*, brand: Brand, conversation: Conversation, message_id: int) -> Message | None:
    with within_brand(brand):
        return (
            Message.objects.for_brand(brand)
            .filter(conversation=conversation, pk=message_id, kind=Message.Kind.IMAGE)
            .exclude(image="")
            .first()
        )
