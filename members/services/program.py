"""The membership programme and its tiers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _

from members import events
from members.models import Member, MembershipProgram, Tier
from members.services.access import require_admin
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope


def program_get(*, brand: Brand) -> MembershipProgram:
    """The brand's membership programme, created with defaults on first use."""
    with brand_scope(brand):
        program = MembershipProgram.objects.for_brand(brand).first()
        if program is None:
            try:
                with transaction.atomic():
                    program = MembershipProgram.objects.create(brand=brand)
            except IntegrityError:
                program = MembershipProgram.objects.for_brand(brand).get()
        return program


def program_update(*, brand: Brand, manager: Staff, actor: Actor, data: dict[str, Any]) -> MembershipProgram:
    require_admin(brand, manager)
    with brand_scope(brand):
        program = program_get(brand=brand)
        program = MembershipProgram.objects.select_for_update().get(pk=program.pk)
        for field in ("points_per_yuan", "points_expiry", "binding_policy", "binding_ttl_days"):
            if field in data:
                setattr(program, field, data[field])
        program.full_clean()
        program.save()
        events.program_updated(brand=brand, actor=actor, program=program)
    return program


def tier_save(
    *, brand: Brand, manager: Staff, actor: Actor, data: dict[str, Any], tier: Tier | None = None
) -> Tier:
    """Create or change a tier, then recompute every member's tier."""
    require_admin(brand, manager)
    with brand_scope(brand):
        tier = tier or Tier(brand=brand)
        for field in ("code", "name", "min_spend_fen"):
            if field in data:
                setattr(tier, field, data[field])
        clash = Tier.objects.for_brand(brand).exclude(pk=tier.pk)
        if clash.filter(code=tier.code).exists():
            raise ValidationError({"code": _("Another tier already has this code.")})
        if clash.filter(min_spend_fen=tier.min_spend_fen).exists():
            raise ValidationError({"min_spend_fen": _("Another tier already starts at this spend.")})
        tier.full_clean(exclude=["brand"], validate_constraints=False)
        tier.save()
        events.tier_saved(brand=brand, actor=actor, tier=tier)
        tiers_recompute(brand=brand)
    return tier


def tiers_recompute(*, brand: Brand, member_ids: Iterable[int] | None = None) -> int:
    """Set each member's tier from their qualifying spend, in one UPDATE."""
    with brand_scope(brand):
        best = (
            Tier.objects.for_brand(brand)
            .filter(min_spend_fen__lte=OuterRef("qualifying_spend_fen"))
            .order_by("-min_spend_fen")
            .values("pk")[:1]
        )
        qs = Member.objects.for_brand(brand).filter(status=Member.Status.ACTIVE)
        if member_ids is not None:
            qs = qs.filter(pk__in=list(member_ids))
        return qs.update(tier=Subquery(best))


def tier_for(brand: Brand, spend: int) -> Tier | None:
    return Tier.objects.for_brand(brand).filter(min_spend_fen__lte=spend).order_by("-min_spend_fen").first()
