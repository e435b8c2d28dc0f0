"""The record that stands for a person (merges followed), locking it, and changing its profile."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from members import events
from members.models import Member
from members.services.access import require_staff
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope


def member_active(member: Member) -> Member:
    """Follow merges to the record that now stands for the person."""
    seen = 0
    while member.status == Member.Status.MERGED and member.merged_into_id and seen < 10:
        member = Member.objects.get(pk=member.merged_into_id)
        seen += 1
    return member


def lock_member(member_id: int) -> Member:
    return Member.objects.select_for_update(no_key=True).get(pk=member_id)


def member_update(
    *, brand: Brand, staff: Staff, actor: Actor, member: Member, data: dict[str, Any]
) -> Member:
    require_staff(brand, staff)
    with brand_scope(brand):
        member = lock_member(member.pk)
        if not member.is_active:
            raise ValidationError(_("This membership is not active."))
        changes = {}
        for field in ("name", "gender", "birthday"):
            if field in data and getattr(member, field) != data[field]:
                changes[field] = True
                setattr(member, field, data[field])
        if changes:
            member.full_clean(
                exclude=["brand", "tier", "join_store", "join_guide", "guide", "merged_into"],
                validate_constraints=False,
            )
            member.save(update_fields=list(changes))
            events.member_updated(brand=brand, actor=actor, member=member, fields=sorted(changes))
    return member
