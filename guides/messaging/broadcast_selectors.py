"""Reads of mass messages (群发): who a segment reaches, the count before sending, the list and the
delivery statistics.

A segment (``Broadcast.segment``) is a dict of optional conditions, all of which must hold:

* ``tags``: tag ids; a member with ANY of them;
* ``tier``: a tier id;
* ``store``: a store id; the store's members as the member list defines them: members who joined
  there, or whose exclusive guide works there now;
* ``guide``: a staff id; that guide's members (her exclusive members now);
* ``bought_within_days``: a purchase within the last N days (``Member.last_purchase_at``);
* ``not_bought_days``: no purchase for N days (never bought counts as not bought).

Only active members are reached. A guide's broadcast (``guide_only``) reaches only her own
members, whatever else the segment says. A store manager's reaches only members of her stores."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from guides.messaging.models import Broadcast, Conversation, MassQuota, Message
from members.models import Member, MemberTag
from retail import roles
from retail.models import Brand, Staff, StaffStore
from retail.tenancy import brand_scope


def quota_month(now: datetime.datetime | None = None) -> datetime.date:
    """The first day of the month (in the platform's time zone) the cap counts in."""
    return timezone.localdate(now or timezone.now()).replace(day=1)


def audience(
    *, brand: Brand, segment: dict, guide_id: int | None = None, store_ids: set[int] | None = None
) -> QuerySet[Member]:
    """Active members of the brand matching ``segment`` (see the module docstring);
    ``guide_id``: only that guide's members; ``store_ids``: only members of these stores."""
    qs = Member.objects.for_brand(brand).filter(status=Member.Status.ACTIVE)
    if guide_id is not None:
        qs = qs.filter(guide_id=guide_id)
    if store_ids is not None:
        guides = StaffStore.objects.for_brand(brand).filter(store_id__in=store_ids).values("staff_id")
        qs = qs.filter(Q(join_store_id__in=store_ids) | Q(guide_id__in=guides))
    tags = segment.get("tags") or []
    if tags:
        qs = qs.filter(
            Exists(MemberTag.objects.for_brand(brand).filter(member_id=OuterRef("pk"), tag_id__in=tags))
        )
    if segment.get("tier"):
        qs = qs.filter(tier_id=segment["tier"])
    if segment.get("store"):
        store = segment["store"]
        guides = StaffStore.objects.for_brand(brand).filter(store_id=store).values("staff_id")
        qs = qs.filter(Q(join_store_id=store) | Q(guide_id__in=guides))
    if segment.get("guide"):
        qs = qs.filter(guide_id=segment["guide"])
    now = timezone.now()
    if segment.get("bought_within_days"):
        qs = qs.filter(last_purchase_at__gte=now - datetime.timedelta(days=segment["bought_within_days"]))
    if segment.get("not_bought_days"):
        since = now - datetime.timedelta(days=segment["not_bought_days"])
        qs = qs.filter(Q(last_purchase_at__isnull=True) | Q(last_purchase_at__lt=since))
    return qs


def sender_limits(staff: Staff, *, guide_only: bool) -> dict:
    """The ``audience`` limits of a sender: a guide's own members; a store manager's stores."""
    if guide_only:
        return {"guide_id": staff.pk}
    if roles.sees_all_stores(staff):
        return {}
    return {"store_ids": roles.store_ids(staff)}


def broadcast_audience(*, brand: Brand, broadcast: Broadcast) -> QuerySet[Member]:
    """Who the broadcast reaches at send time (a guide's: her members at that moment)."""
    limits: dict = {}
    if broadcast.guide_only:
        limits["guide_id"] = broadcast.created_by_id
    elif broadcast.segment.get("_stores") is not None:
        limits["store_ids"] = set(broadcast.segment["_stores"])
    return audience(brand=brand, segment=broadcast.segment, **limits)


@dataclass
class Preview:
    matched: int  # members the segment matches
    muted: int  # without marketing consent: skipped
    capped: int  # with consent, but already at this month's cap: skipped
    cap: int

    @property
    def will_send(self) -> int:
        return max(0, self.matched - self.muted - self.capped)


def broadcast_preview(*, brand: Brand, staff: Staff, segment: dict, guide_only: bool) -> Preview:
    """How many members a broadcast would reach now, and how many it would skip (one query)."""
    from guides.messaging.conversations import settings_get

    cap = settings_get(brand=brand).mass_cap
    with brand_scope(brand):
        qs = audience(brand=brand, segment=segment, **sender_limits(staff, guide_only=guide_only))
        full = MassQuota.objects.for_brand(brand).filter(
            member_id=OuterRef("pk"), month=quota_month(), count__gte=cap
        )
        row = qs.annotate(full=Exists(full)).aggregate(
            matched=Count("pk"),
            muted=Count("pk", filter=Q(marketing_consent=False)),
            capped=Count("pk", filter=Q(marketing_consent=True, full=True)),
        )
    capped = row["capped"] if cap else row["matched"] - row["muted"]
    return Preview(matched=row["matched"], muted=row["muted"], capped=capped, cap=cap)


def broadcast_list(*, brand: Brand, staff: Staff, guide_only: bool) -> QuerySet[Broadcast]:
    """A guide's own broadcasts (mobile); the brand's (console): all for a brand admin, a store
    manager's own."""
    qs = Broadcast.objects.for_brand(brand).select_related("created_by")
    if guide_only:
        return qs.filter(guide_only=True, created_by=staff)
    qs = qs.filter(guide_only=False)
    if not roles.sees_all_stores(staff):
        qs = qs.filter(created_by=staff)
    return qs


def broadcast_get(*, brand: Brand, staff: Staff, pk: int, guide_only: bool) -> Broadcast | None:
    with brand_scope(brand):
        return broadcast_list(brand=brand, staff=staff, guide_only=guide_only).filter(pk=pk).first()


def broadcast_read_count(*, brand: Brand, broadcast: Broadcast) -> int:
    """Members who have read the broadcast's message (their read mark is at or past it)."""
    with brand_scope(brand):
        read_upto = Conversation.objects.for_brand(brand).filter(pk=OuterRef("conversation_id"))
        return (
            Message.objects.for_brand(brand)
            .filter(broadcast=broadcast)
            .filter(Exists(read_upto.filter(member_read_upto__gte=OuterRef("pk"))))
            .count()
        )
