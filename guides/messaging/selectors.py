"""Reads of messaging (brand= first; cheap: a bounded number of queries each)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet

from cloudstore.models import Order
from guides.messaging.models import CannedReply, Conversation, GuideNote, Message, ShopperReport
from members.models import Member, MemberTag
from retail.models import Brand, Staff, StaffStore

PANEL_ORDERS = 5
PANEL_NOTES = 50


def canned_replies(*, brand: Brand, staff: Staff | None) -> list[CannedReply]:
    """The canned replies a guide can pick: the brand's first, then her own (one query). Each row
    has ``mine`` set (True for hers)."""
    q = Q(staff__isnull=True)
    if staff is not None:
        q |= Q(staff=staff)
    rows = list(CannedReply.objects.for_brand(brand).filter(q))
    for row in rows:
        row.mine = staff is not None and row.staff_id == staff.pk
    rows.sort(key=lambda r: (r.mine, r.position, r.pk))
    return rows


def brand_canned(*, brand: Brand) -> QuerySet[CannedReply]:
    return CannedReply.objects.for_brand(brand).filter(staff__isnull=True)


def own_canned(*, brand: Brand, staff: Staff) -> QuerySet[CannedReply]:
    return CannedReply.objects.for_brand(brand).filter(staff=staff)


def member_panel(
    *, brand: Brand, staff: Staff, member: Member, conversation_id: int | None = None
) -> dict[str, Any]:
    """What the guide sees beside the chat: tier, points, tags, the last orders and her own notes.
    Only the member's current guide may read it. Four queries (tier with the member), five when
    the conversation's id (for the notes' forms) is not given."""
    if member.brand_id != brand.pk or member.guide_id != staff.pk:
        raise PermissionDenied
    fresh = Member.objects.for_brand(brand).select_related("tier").filter(pk=member.pk).first()
    if fresh is None:
        raise PermissionDenied
    tags = [
        mt.tag.name
        for mt in MemberTag.objects.for_brand(brand)
        .select_related("tag")
        .filter(member=fresh)
        .order_by("tag__name")
    ]
    orders = list(
        Order.objects.for_brand(brand)
        .filter(member=fresh)
        .select_related("store")
        .order_by("-created_at", "-id")[:PANEL_ORDERS]
    )
    notes = list(GuideNote.objects.for_brand(brand).filter(staff=staff, member=fresh)[:PANEL_NOTES])
    if conversation_id is None:
        conversation_id = (
            Conversation.objects.for_brand(brand).filter(member=fresh).values_list("pk", flat=True).first()
        )
    return {
        "conversation_id": conversation_id,
        "member": fresh,
        "tier": fresh.tier.name if fresh.tier_id else "",
        "points": fresh.points_balance,
        "tags": tags,
        "orders": orders,
        "notes": notes,
        "last_purchase_at": fresh.last_purchase_at,
    }


# --- the brand's console -----------------------------------------------------------------------


def console_conversations(
    *,
    brand: Brand,
    guide_id: int | None = None,
    store_id: int | None = None,
    reported: bool = False,
) -> QuerySet[Conversation]:
    """Conversations for brand admins, newest first: by the member's guide, by a store (members
    whose guide works there), only those with an open report."""
    qs = Conversation.objects.for_brand(brand).select_related("member", "member__guide")
    if guide_id is not None:
        qs = qs.filter(member__guide_id=guide_id)
    if store_id is not None:
        qs = qs.filter(
            Exists(
                StaffStore.objects.for_brand(brand).filter(
                    staff_id=OuterRef("member__guide_id"), store_id=store_id
                )
            )
        )
    open_reports = ShopperReport.objects.for_brand(brand).filter(
        conversation_id=OuterRef("pk"), resolved_at__isnull=True
    )
    qs = qs.annotate(has_report=Exists(open_reports))
    if reported:
        qs = qs.filter(has_report=True)
    return qs.order_by("-last_message_at", "-id")


def console_messages(*, brand: Brand, conversation: Conversation, limit: int = 200) -> list[Message]:
    """The conversation's latest messages, oldest first (the console reads, never writes)."""
    rows = list(
        Message.objects.for_brand(brand)
        .filter(conversation=conversation)
        .select_related("staff")
        .order_by("-id")[:limit]
    )
    rows.reverse()
    return rows


def reports(*, brand: Brand, resolved: bool | None = False) -> QuerySet[ShopperReport]:
    qs = ShopperReport.objects.for_brand(brand).select_related("staff", "conversation__member")
    if resolved is not None:
        qs = qs.filter(resolved_at__isnull=not resolved)
    return qs.order_by("-created_at", "-id")


def guides_with_members(*, brand: Brand) -> QuerySet[Staff]:
    """Staff who are some member's guide (the console's guide filter)."""
    return (
        Staff.objects.for_brand(brand)
        .filter(Exists(Member.objects.for_brand(brand).filter(guide_id=OuterRef("pk"))))
        .order_by("name", "id")
    )
