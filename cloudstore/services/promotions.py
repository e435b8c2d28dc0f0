"""Writes of campaigns, coupons and guides' share links (with the touches they record)."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cloudstore import events
from cloudstore.models import Campaign, Coupon, Product, ShareLink, Touch
from members.models import Member
from members.services.access import can_serve
from retail import roles
from retail.events import Actor
from retail.models import Brand, Staff, Store
from retail.money import yuan_input
from retail.tenancy import brand_scope

MAX_SEGMENT = 200_000
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud at a till


def _code(n: int = 10) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _i in range(n))


CAMPAIGN_FIELDS = (
    "name",
    "kind",
    "amount_off_fen",
    "percent_off",
    "max_discount_fen",
    "threshold_fen",
    "per_member_limit",
    "total_limit",
    "starts_at",
    "ends_at",
    "guides_may_issue",
    "active",
)


def campaign_save(
    *, brand: Brand, staff: Staff, actor: Actor, data: dict[str, Any], campaign: Campaign | None = None
) -> Campaign:
    roles.require(brand, staff, roles.can_manage_stores(staff))
    with brand_scope(brand):
        campaign = campaign or Campaign(brand=brand)
        for f in CAMPAIGN_FIELDS:
            if f in data:
                setattr(campaign, f, data[f])
        if campaign.kind == Campaign.Kind.AMOUNT_OFF:
            campaign.percent_off = 0
            campaign.max_discount_fen = None
            if not campaign.amount_off_fen:
                raise ValidationError({"amount_off_fen": _("Give the amount off.")})
        elif campaign.kind == Campaign.Kind.PERCENT_OFF:
            campaign.amount_off_fen = 0
            if not 1 <= (campaign.percent_off or 0) <= 99:
                raise ValidationError({"percent_off": _("Between 1 and 99 percent.")})
        if campaign.starts_at and campaign.ends_at and campaign.ends_at <= campaign.starts_at:
            raise ValidationError({"ends_at": _("The end must come after the start.")})
        if campaign.total_limit is not None and campaign.total_limit < campaign.issued_count:
            raise ValidationError({"total_limit": _("More coupons than that were issued already.")})
        campaign.full_clean(validate_constraints=False)
        campaign.save()
        events.audit(brand=brand, actor=actor, action="campaign.saved", target=campaign)
        return campaign


def _limit(message: str) -> ValidationError:
    return ValidationError({"campaign": ValidationError(message, code="coupon_limit")})


def _take_units(campaign: Campaign, n: int) -> bool:
    """Count ``n`` more coupons against the campaign's total limit, in one conditional update."""
    return bool(
        Campaign.objects.filter(pk=campaign.pk)
        .filter(Q(total_limit__isnull=True) | Q(issued_count__lte=F("total_limit") - n))
        .update(issued_count=F("issued_count") + n)
    )


def coupon_issue(
    *, brand: Brand, campaign: Campaign, member: Member, issued_by: Staff | None, actor: Actor
) -> Coupon:
    """Give a member a coupon of a campaign, within the campaign's per-member and total limits."""
    if campaign.brand_id != brand.pk or member.brand_id != brand.pk:
        raise ValidationError(_("Unknown campaign or member."))
    if issued_by is not None:
        roles.require(brand, issued_by, True)
    now = timezone.now()
    with brand_scope(brand):
        m = Member.objects.select_for_update(no_key=True).get(pk=member.pk)
        c = Campaign.objects.get(pk=campaign.pk)
        if not m.is_active:
            raise ValidationError(_("This membership is not active."))
        if not c.active or now >= c.ends_at:
            raise ValidationError({"campaign": _("This campaign has ended.")})
        if issued_by is not None and issued_by.role == Staff.Role.GUIDE and not c.guides_may_issue:
            raise ValidationError({"campaign": _("Guides may not issue this campaign's coupons.")})
        # Taking a unit of the campaign locks its row first, so a concurrent single or bulk issue
        # has committed (and is counted below) before this member's holding is counted.
        if not _take_units(c, 1):
            raise _limit(_("All coupons of this campaign are gone."))
        held = Coupon.objects.filter(campaign=c, member=m).exclude(status=Coupon.Status.VOID).count()
        if held >= c.per_member_limit:
            raise _limit(_("The member already has this coupon."))
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    coupon = Coupon.objects.create(
                        brand=brand, campaign=c, member=m, code=_code(), issued_by=issued_by, issued_at=now
                    )
                break
            except IntegrityError:  # code collision: draw again
                continue
        else:  # pragma: no cover - 32^10 codes
            raise ValidationError(_("Please try again."))
        events.audit(
            brand=brand,
            actor=actor,
            action="coupon.issued",
            target=coupon,
            target_repr=c.name,
        )
        return coupon


def campaign_issue_to_members(
    *, brand: Brand, staff: Staff, actor: Actor, campaign: Campaign, members: QuerySet[Member]
) -> dict[str, int]:
    """Give one coupon each to every active member of ``members`` (a segment: tag, tier, store...)
    who holds fewer than the per-member limit, as far as the total limit reaches. Set-based."""
    roles.require(brand, staff, roles.can_manage_stores(staff))
    if campaign.brand_id != brand.pk:
        raise ValidationError(_("Unknown campaign."))
    now = timezone.now()
    with brand_scope(brand):
        c = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
        if not c.active or now >= c.ends_at:
            raise ValidationError({"campaign": _("This campaign has ended.")})
        full = (
            Coupon.objects.filter(campaign=c)
            .exclude(status=Coupon.Status.VOID)
            .values("member_id")
            .annotate(n=Count("id"))
            .filter(n__gte=c.per_member_limit)
            .values("member_id")
        )
        eligible = (
            members.filter(brand_id=brand.pk, status=Member.Status.ACTIVE)
            .exclude(pk__in=full)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        room = None if c.total_limit is None else max(0, c.total_limit - c.issued_count)
        ids = list(eligible[:room] if room is not None else eligible[:MAX_SEGMENT])[:MAX_SEGMENT]
        total = members.filter(brand_id=brand.pk).count()
        if ids:
            for _attempt in range(3):
                try:
                    with transaction.atomic():
                        Coupon.objects.bulk_create(
                            [
                                Coupon(
                                    brand=brand,
                                    campaign=c,
                                    member_id=pk,
                                    code=_code(),
                                    issued_by=staff,
                                    issued_at=now,
                                )
                                for pk in ids
                            ],
                            batch_size=5000,
                        )
                    break
                except IntegrityError:  # a code collision somewhere in the batch: draw them all again
                    continue
            else:  # pragma: no cover
                raise ValidationError(_("Please try again."))
            Campaign.objects.filter(pk=c.pk).update(issued_count=F("issued_count") + len(ids))
        result = {"issued": len(ids), "skipped": total - len(ids)}
        events.audit(brand=brand, actor=actor, action="campaign.issued", target=c, data=result)
        return result


def coupon_find(*, brand: Brand, code: str) -> Coupon | None:
    code = (code or "").strip().upper()
    if not code or len(code) > 16:
        return None
    with brand_scope(brand):
        return Coupon.objects.select_related("campaign").filter(code=code).first()


def coupon_check(coupon: Coupon | None, *, member: Member | None, subtotal_fen: int, now=None) -> int:
    """The discount ``coupon`` gives on ``subtotal_fen`` for ``member``, or a ValidationError why not."""
    now = now or timezone.now()

    def no(msg: str, code: str = "coupon_invalid") -> ValidationError:
        return ValidationError({"coupon": ValidationError(msg, code=code)})

    if coupon is None:
        raise no(_("Unknown coupon."))
    c = coupon.campaign
    if coupon.status == Coupon.Status.USED or coupon.status == Coupon.Status.HELD:
        raise no(_("This coupon has been used."), "coupon_used")
    if coupon.status == Coupon.Status.VOID or not c.active:
        raise no(_("This coupon is no longer valid."))
    if now < c.starts_at:
        raise no(_("This coupon is not valid yet."))
    if now >= c.ends_at:
        raise no(_("This coupon has expired."))
    if coupon.member_id is not None and (member is None or member.pk != coupon.member_id):
        raise no(_("This coupon belongs to another member."))
    if subtotal_fen < c.threshold_fen:
        raise no(_("Spend at least ¥%(yuan)s to use this coupon.") % {"yuan": yuan_input(c.threshold_fen)})
    return c.discount_for(subtotal_fen)


def coupon_take(coupon: Coupon, *, to: str, order=None, external_ref: str = "") -> bool:
    """Move a ready coupon to held/used in one conditional UPDATE: only one order can win it."""
    now = timezone.now()
    return bool(
        Coupon.objects.filter(pk=coupon.pk, status=Coupon.Status.ISSUED).update(
            status=to,
            order=order,
            external_ref=external_ref,
            used_at=now if to == Coupon.Status.USED else None,
        )
    )


def coupon_redeem_external(
    *,
    brand: Brand,
    staff: Staff,
    actor: Actor,
    code: str,
    member: Member | None,
    subtotal_fen: int,
    reference: str,
) -> tuple[Coupon, int, bool]:
    """A POS uses a coupon against its own sale ``reference``; a replay with the same reference
    answers as before. Returns (coupon, discount, replayed)."""
    roles.require(brand, staff, True)
    reference = (reference or "").strip()
    if not reference or len(reference) > 100:
        raise ValidationError({"reference": _("Give the POS sale reference (at most 100 characters).")})
    with brand_scope(brand):
        coupon = coupon_find(brand=brand, code=code)
        if coupon is not None and coupon.status == Coupon.Status.USED and coupon.external_ref == reference:
            return coupon, coupon.campaign.discount_for(subtotal_fen), True
        discount = coupon_check(coupon, member=member, subtotal_fen=subtotal_fen)
        if not coupon_take(coupon, to=Coupon.Status.USED, external_ref=reference):
            raise ValidationError(
                {"coupon": ValidationError(_("This coupon has been used."), code="coupon_used")}
            )
        coupon.refresh_from_db()
        events.audit(
            brand=brand, actor=actor, action="coupon.redeemed", target=coupon, data={"reference": reference}
        )
        return coupon, discount, False


def coupon_void(*, brand: Brand, staff: Staff, actor: Actor, coupon: Coupon) -> Coupon:
    roles.require(brand, staff, roles.can_manage_stores(staff))
    with brand_scope(brand):
        if not Coupon.objects.filter(pk=coupon.pk, status=Coupon.Status.ISSUED).update(
            status=Coupon.Status.VOID
        ):
            raise ValidationError(_("Only an unused coupon can be voided."))
        events.audit(brand=brand, actor=actor, action="coupon.voided", target=coupon)
        coupon.status = Coupon.Status.VOID
        return coupon


# --- share links and touches --------------------------------------------------------------------


def share_link_get(
    *,
    brand: Brand,
    guide: Staff,
    kind: str,
    store: Store,
    product: Product | None = None,
    campaign: Campaign | None = None,
) -> ShareLink:
    """The guide's link for this product / store page / coupon (one per target, reused)."""
    roles.require(brand, guide, can_serve(guide) or roles.can_manage_staff(guide))
    for obj in (store, product, campaign):
        if obj is not None and obj.brand_id != brand.pk:
            raise ValidationError(_("Unknown store, product or campaign."))
    if kind not in ShareLink.Kind.values:
        raise ValidationError({"kind": _("Share a product, a store page or a coupon.")})
    if kind == ShareLink.Kind.PRODUCT and product is None:
        raise ValidationError({"product": _("Choose a product.")})
    if kind == ShareLink.Kind.COUPON:
        if campaign is None:
            raise ValidationError({"campaign": _("Choose a campaign.")})
        if not campaign.active or campaign.ends_at <= timezone.now():
            raise ValidationError({"campaign": _("This campaign has ended.")})
        if guide.role == Staff.Role.GUIDE and not campaign.guides_may_issue:
            raise ValidationError({"campaign": _("Guides may not issue this campaign's coupons.")})
    if kind != ShareLink.Kind.PRODUCT:
        product = None
    if kind != ShareLink.Kind.COUPON:
        campaign = None
    with brand_scope(brand):
        target = {
            ShareLink.Kind.PRODUCT: f"product:{getattr(product, 'pk', '')}",
            ShareLink.Kind.COUPON: f"coupon:{getattr(campaign, 'pk', '')}",
        }.get(kind, "store")
        lookup = {"guide": guide, "store": store, "target": target}
        link = ShareLink.objects.filter(**lookup).first()
        if link is not None:
            return link
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    return ShareLink.objects.create(
                        brand=brand, code=_code(8), kind=kind, product=product, campaign=campaign, **lookup
                    )
            except IntegrityError:
                link = ShareLink.objects.filter(**lookup).first()
                if link is not None:  # the same guide's concurrent share won
                    return link
        raise ValidationError(_("Please try again."))  # pragma: no cover


def share_link_open(
    *, brand: Brand, code: str, member: Member | None, visitor: str
) -> tuple[ShareLink, Touch] | None:
    """A shopper opened a share link: count it and record the touch. A member with another exclusive
    guide keeps that guide; the touch notes who it was."""
    code = (code or "").strip().upper()
    if not code or len(code) > 16:
        return None
    with brand_scope(brand):
        link = (
            ShareLink.objects.select_related("guide", "store", "product", "campaign")
            .filter(code=code)
            .first()
        )
        if link is None:
            return None
        ShareLink.objects.filter(pk=link.pk).update(opens=F("opens") + 1)
        exclusive = None
        if member is not None and member.guide_id and member.guide_id != link.guide_id:
            exclusive = member.guide_id
        touch = Touch.objects.create(
            brand=brand,
            link=link,
            guide_id=link.guide_id,
            member=member,
            visitor=(visitor or "")[:40],
            exclusive_guide_id=exclusive,
        )
        return link, touch


def touches_claim(*, brand: Brand, member: Member, touch_ids: list[int]) -> int:
    """Touches a visitor made before they were known become theirs once they log in or join."""
    if not touch_ids:
        return 0
    with brand_scope(brand):
        ids = touch_ids[:50]
        n = Touch.objects.filter(pk__in=ids, member__isnull=True).update(
            member=member, exclusive_guide_id=member.guide_id
        )
        # A touch by the member's own guide is not "another guide's" touch.
        Touch.objects.filter(pk__in=ids, member=member, guide_id=member.guide_id).update(exclusive_guide=None)
        return n
