"""Members' consent to marketing and their right to be forgotten."""

from __future__ import annotations

from collections.abc import Callable

from django.utils import timezone

from members import events
from members.models import ConsentRecord, GuideBinding, Member, MemberIdentity, MemberTag
from members.services.records import lock_member
from retail.events import Actor
from retail.models import Brand
from retail.tenancy import brand_scope

# Other apps register functions that erase their own personal data of a member (conversations),
# called in the erasure's transaction: hook(brand, member).
ERASE_HOOKS: dict[str, Callable[[Brand, Member], None]] = {}


def record_consent(member: Member, granted: bool, source: str, ip: str | None) -> None:
    last = ConsentRecord.objects.filter(member=member).order_by("-created_at", "-id").first()
    if last is not None and last.granted == granted:
        return
    ConsentRecord.objects.create(
        brand_id=member.brand_id, member=member, granted=granted, source=source, ip=ip
    )
    Member.objects.filter(pk=member.pk).update(marketing_consent=granted)
    member.marketing_consent = granted


def member_consent_set(
    *, brand: Brand, member: Member, granted: bool, source: str, ip: str | None = None
) -> Member:
    with brand_scope(brand):
        member = lock_member(member.pk)
        record_consent(member, granted, source, ip)
    return member


def member_erase(*, brand: Brand, member: Member, actor: Actor, source: str) -> Member:
    """The member's right to be forgotten: personal data erased, ledgers kept balanced."""
    with brand_scope(brand):
        member = lock_member(member.pk)
        if member.status == Member.Status.ERASED:
            return member
        now = timezone.now()
        MemberIdentity.objects.filter(member=member).delete()
        MemberTag.objects.filter(member=member).delete()
        GuideBinding.objects.filter(member=member, ended_at__isnull=True).update(
            ended_at=now, end_reason=GuideBinding.Reason.ERASED
        )
        record_consent(member, False, source, None)
        member.name, member.gender, member.birthday = "", "", None
        member.status, member.erased_at, member.guide = Member.Status.ERASED, now, None
        member.save(update_fields=["name", "gender", "birthday", "status", "erased_at", "guide"])
        for hook in ERASE_HOOKS.values():
            hook(brand, member)
        events.member_erased(brand=brand, actor=actor, member=member)
    return member
