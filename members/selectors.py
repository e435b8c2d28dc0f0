"""Reads of the membership programme. Every function takes its brand; visibility follows roles:
a guide sees their own members, a store manager the members served in their stores, a brand
admin every member."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet

from members.identities import normalize_identity
from members.models import (
    ConsentRecord,
    GuideBinding,
    Member,
    MemberIdentity,
    MemberJob,
    MemberPolicy,
    MemberTag,
    MergeRecord,
    PointsEntry,
    Tag,
    Tier,
)
from retail import roles
from retail.models import Brand, Staff, StaffStore
from retail.tenancy import get_for_brand_or_404


@dataclass
class MemberFilters:
    q: str = ""
    tags: list[int] = field(default_factory=list)
    tier: int | None = None
    store: int | None = None
    guide: int | None = None
    joined_from: datetime.date | None = None
    joined_to: datetime.date | None = None
    purchased_from: datetime.date | None = None
    purchased_to: datetime.date | None = None
    status: str = Member.Status.ACTIVE


def _visible(brand: Brand, viewer: Staff, brand_wide: bool = False) -> QuerySet[Member]:
    qs = Member.objects.for_brand(brand)
    if brand_wide or roles.sees_all_stores(viewer):
        return qs
    if viewer.role == Staff.Role.STORE_MANAGER:
        stores = roles.store_ids(viewer)
        guides = StaffStore.objects.for_brand(brand).filter(store_id__in=stores).values("staff_id")
        return qs.filter(Q(guide_id__in=guides) | Q(join_store_id__in=stores))
    return qs.filter(guide=viewer)


def member_list(
    *, brand: Brand, viewer: Staff, filters: MemberFilters | None = None, brand_wide: bool = False
) -> QuerySet[Member]:
    """Members the viewer may see (``brand_wide``: every member of the brand, for identifying a
    shopper at checkout), filtered; identities, tags, tier and guide load in a fixed number of
    queries."""
    f = filters or MemberFilters()
    qs = _visible(brand, viewer, brand_wide)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.q:
        q = f.q.strip()
        cond = Q(name__icontains=q)
        for kind in (MemberIdentity.Kind.PHONE, MemberIdentity.Kind.CARD):
            try:
                value = normalize_identity(kind, q)
            except ValidationError:  # not a value of that kind
                continue  # noqa: S112
            cond |= Q(
                pk__in=MemberIdentity.objects.for_brand(brand)
                .filter(kind=kind, value=value)
                .values("member_id")
            )
        if q.isdigit() and 4 <= len(q) < 11:  # the tail of a phone number
            cond |= Q(
                pk__in=MemberIdentity.objects.for_brand(brand)
                .filter(kind=MemberIdentity.Kind.PHONE, value__endswith=q)
                .values("member_id")
            )
        qs = qs.filter(cond)
    for tag in f.tags:
        qs = qs.filter(pk__in=MemberTag.objects.for_brand(brand).filter(tag_id=tag).values("member_id"))
    if f.tier:
        qs = qs.filter(tier_id=f.tier)
    if f.store:
        guides = StaffStore.objects.for_brand(brand).filter(store_id=f.store).values("staff_id")
        qs = qs.filter(Q(join_store_id=f.store) | Q(guide_id__in=guides))
    if f.guide:
        qs = qs.filter(guide_id=f.guide)
    if f.joined_from:
        qs = qs.filter(joined_at__date__gte=f.joined_from)
    if f.joined_to:
        qs = qs.filter(joined_at__date__lte=f.joined_to)
    if f.purchased_from:
        qs = qs.filter(last_purchase_at__date__gte=f.purchased_from)
    if f.purchased_to:
        qs = qs.filter(last_purchase_at__date__lte=f.purchased_to)
    return (
        qs.select_related("tier", "guide")
        .prefetch_related(
            Prefetch("identities", queryset=MemberIdentity.objects.for_brand(brand).order_by("kind")),
            Prefetch("member_tags", queryset=MemberTag.objects.for_brand(brand).select_related("tag")),
        )
        .order_by("-joined_at", "-id")
    )


def member_get(*, brand: Brand, viewer: Staff, member_id) -> Member:
    return get_for_brand_or_404(
        member_list(brand=brand, viewer=viewer, filters=MemberFilters(status="")), brand, pk=member_id
    )


def member_lookup(*, brand: Brand, viewer: Staff, kind: str, value: str) -> Member | None:
    """The brand's member behind a channel identity, any staff may ask: one indexed query for
    the member (identities and tags prefetched), merges followed."""
    value = normalize_identity(kind, value)
    qs = member_list(brand=brand, viewer=viewer, filters=MemberFilters(status=""), brand_wide=True)
    member = qs.filter(identities__brand=brand, identities__kind=kind, identities__value=value).first()
    if member is not None and member.status == Member.Status.MERGED:
        return member_by_id(brand=brand, viewer=viewer, member_id=member.pk)
    return member if member is not None and member.is_active else None


def member_by_id(*, brand: Brand, viewer: Staff, member_id: int) -> Member | None:
    """The active member now standing for ``member_id`` (merges followed), brand-wide."""
    qs = member_list(brand=brand, viewer=viewer, filters=MemberFilters(status=""), brand_wide=True)
    member = qs.filter(pk=member_id).first()
    for _ in range(10):
        if member is None or member.status != Member.Status.MERGED or not member.merged_into_id:
            break
        member = qs.filter(pk=member.merged_into_id).first()
    return member if member is not None and member.is_active else None


def points_history(*, brand: Brand, member: Member) -> QuerySet[PointsEntry]:
    return PointsEntry.objects.for_brand(brand).filter(member=member).order_by("-created_at", "-id")


def binding_history(*, brand: Brand, member: Member) -> QuerySet[GuideBinding]:
    return (
        GuideBinding.objects.for_brand(brand)
        .filter(member=member)
        .select_related("guide")
        .order_by("-started_at", "-id")
    )


def consent_history(*, brand: Brand, member: Member) -> QuerySet[ConsentRecord]:
    """Every grant and withdrawal of the member's marketing consent, newest first."""
    return ConsentRecord.objects.for_brand(brand).filter(member=member).order_by("-created_at", "-id")


def tag_list(*, brand: Brand) -> QuerySet[Tag]:
    return Tag.objects.for_brand(brand).prefetch_related("rules").order_by("group", "name")


def tier_list(*, brand: Brand) -> QuerySet[Tier]:
    return Tier.objects.for_brand(brand).order_by("min_spend_fen")


def merge_list(*, brand: Brand) -> QuerySet[MergeRecord]:
    return MergeRecord.objects.for_brand(brand).select_related(
        "survivor", "absorbed", "created_by", "undone_by"
    )


def job_list(*, brand: Brand, viewer: Staff) -> QuerySet[MemberJob]:
    qs = MemberJob.objects.for_brand(brand)
    if not roles.sees_all_stores(viewer):
        qs = qs.filter(created_by=viewer.user)
    return qs.order_by("-created_at", "-id")


def guides_for_handover(*, brand: Brand, viewer: Staff) -> QuerySet[Staff]:
    """Staff who can take members over, within the viewer's reach."""
    qs = (
        Staff.objects.for_brand(brand).filter(status=Staff.Status.ACTIVE).exclude(role=Staff.Role.BRAND_ADMIN)
    )
    if not roles.sees_all_stores(viewer):
        qs = qs.filter(
            pk__in=StaffStore.objects.for_brand(brand)
            .filter(store_id__in=roles.store_ids(viewer))
            .values("staff_id")
        )
    return qs.order_by("name", "id")


# --- the texts members agree to ------------------------------------------------------------------


def policies_current(*, brand: Brand) -> dict[str, MemberPolicy | None]:
    """The version in force of each text members agree to (None where the brand has none yet)."""
    return {kind: policy_versions(brand=brand, kind=kind).first() for kind in MemberPolicy.Kind.values}


def policy_versions(*, brand: Brand, kind: str) -> QuerySet[MemberPolicy]:
    """Every version of one text, newest (the one in force) first."""
    return (
        MemberPolicy.objects.for_brand(brand)
        .filter(kind=kind)
        .select_related("created_by")
        .order_by("-version")
    )
