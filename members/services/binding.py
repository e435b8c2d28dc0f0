"""Members' exclusive guides: binding under the brand's rule, a manager's choice, the member's
request, hand-overs."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from members import events
from members.models import GuideBinding, Member, MembershipProgram
from members.services.access import can_serve, require_staff
from members.services.program import program_get
from members.services.records import lock_member
from retail import roles
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope


def open_binding(member: Member) -> GuideBinding | None:
    return GuideBinding.objects.filter(member=member, ended_at__isnull=True).select_related("guide").first()


def bind_guide(
    brand: Brand,
    member: Member,
    guide: Staff,
    reason: str,
    *,
    actor: Actor | None = None,
    force: bool = False,
) -> bool:
    """Make ``guide`` the member's exclusive guide if the brand's rule allows; True if it changed.

    Joining through another guide's link does not steal a member: under the default rule the
    first guide keeps them unless the binding expired or that guide left. Hand-overs, staff
    decisions and the member's own request (``force``) always rebind.
    """
    now = timezone.now()
    current = open_binding(member)
    if current is not None and current.guide_id == guide.pk:
        return False
    if current is not None and not force:
        program = program_get(brand=brand)
        expired = (
            program.binding_ttl_days is not None
            and current.started_at + datetime.timedelta(days=program.binding_ttl_days) <= now
        )
        guide_left = current.guide.status == Staff.Status.LEFT
        if program.binding_policy == MembershipProgram.BindingPolicy.FIRST_GUIDE_KEEPS and not (
            expired or guide_left
        ):
            return False
        if expired or guide_left:
            reason = GuideBinding.Reason.EXPIRED_REBIND
    if current is not None:
        current.ended_at = now
        current.end_reason = reason
        current.save(update_fields=["ended_at", "end_reason"])
    GuideBinding.objects.create(
        brand=brand,
        member=member,
        guide=guide,
        started_at=now,
        start_reason=reason,
        created_by=actor.user if actor else None,
    )
    Member.objects.filter(pk=member.pk).update(guide=guide)
    member.guide = guide
    events.member_bound(
        brand=brand,
        actor=actor,
        member=member,
        guide=guide,
        reason=reason,
        previous_id=current.guide_id if current is not None else None,
    )
    return True


def member_guide_set(*, brand: Brand, staff: Staff, actor: Actor, member: Member, guide: Staff) -> Member:
    """Staff (a manager) or the member's own request picks the member's exclusive guide."""
    require_staff(brand, staff)
    if not roles.can_manage_staff(staff):
        raise PermissionDenied(_("You are not allowed to do this."))
    if guide.brand_id != brand.pk or not can_serve(guide):
        raise ValidationError({"guide": _("This person cannot be a member's guide.")})
    with brand_scope(brand):
        member = lock_member(member.pk)
        bind_guide(brand, member, guide, GuideBinding.Reason.ADMIN, actor=actor, force=True)
    return member


def member_guide_request(*, brand: Brand, member: Member, guide: Staff) -> Member:
    """The member asks to be served by ``guide`` (from the join page of that guide)."""
    if guide.brand_id != brand.pk or not can_serve(guide):
        raise ValidationError({"guide": _("This person cannot be a member's guide.")})
    with brand_scope(brand):
        member = lock_member(member.pk)
        bind_guide(brand, member, guide, GuideBinding.Reason.MEMBER_REQUEST, force=True)
    return member


def members_handover(
    *,
    brand: Brand,
    manager: Staff,
    actor: Actor,
    from_guide: Staff,
    to_guide: Staff,
    member_ids: Iterable[int] | None = None,
) -> int:
    """离职继承: move all (or some) of a guide's members to another guide in one action.

    Set-based: the open bindings are closed and new ones opened in bulk; history is kept."""
    require_staff(brand, manager)
    if not roles.can_manage_staff(manager):
        raise PermissionDenied(_("You are not allowed to do this."))
    if from_guide.brand_id != brand.pk or to_guide.brand_id != brand.pk:
        raise ValidationError({"guide": _("Unknown guide.")})
    if from_guide.pk == to_guide.pk:
        raise ValidationError({"to_guide": _("Choose another guide.")})
    if not can_serve(to_guide):
        raise ValidationError({"to_guide": _("This person cannot be a member's guide.")})
    with brand_scope(brand):
        if not roles.sees_all_stores(manager):
            mine = roles.store_ids(manager)
            if not (roles.store_ids(from_guide) & mine and roles.store_ids(to_guide) & mine):
                raise PermissionDenied(_("You can only hand over within your own stores."))
        members = Member.objects.for_brand(brand).select_for_update(no_key=True).filter(guide=from_guide)
        if member_ids is not None:
            members = members.filter(pk__in=list(member_ids))
        ids = list(members.values_list("pk", flat=True))
        if not ids:
            return 0
        now = timezone.now()
        GuideBinding.objects.filter(member_id__in=ids, ended_at__isnull=True).update(
            ended_at=now, end_reason=GuideBinding.Reason.HANDOVER
        )
        GuideBinding.objects.bulk_create(
            [
                GuideBinding(
                    brand=brand,
                    member_id=pk,
                    guide=to_guide,
                    started_at=now,
                    start_reason=GuideBinding.Reason.HANDOVER,
                    created_by=actor.user,
                )
                for pk in ids
            ],
            batch_size=5000,
        )
        Member.objects.filter(pk__in=ids).update(guide=to_guide)
        events.members_handed_over(
            brand=brand, actor=actor, from_guide=from_guide, to_guide=to_guide, member_ids=ids
        )
    return len(ids)
