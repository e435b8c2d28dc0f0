"""Joining, finding members by channel identity, creating them and adding identities."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from members import events
from members.identities import PROVING_KINDS, normalize_identity
from members.models import (
    ConsentRecord,
    GuideBinding,
    Member,
    MemberIdentity,
    MemberPolicy,
    MergeRecord,
)
from members.services.access import can_serve
from members.services.binding import bind_guide, open_binding
from members.services.merge import members_merge
from members.services.policies import policy_versions
from members.services.program import tier_for
from members.services.records import lock_member, member_active
from retail import roles
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope


@dataclass
class JoinResult:
    member: Member
    created: bool
    guide_changed: bool
    kept_guide: Staff | None


def member_find(*, brand: Brand, kind: str, value: str) -> Member | None:
    """The active member behind a channel identity (one indexed lookup), or None."""
    try:
        value = normalize_identity(kind, value)
    except ValidationError:
        return None
    with brand_scope(brand):
        identity = (
            MemberIdentity.objects.for_brand(brand)
            .select_related("member")
            .filter(kind=kind, value=value)
            .first()
        )
        return member_active(identity.member) if identity else None


def member_join(
    *,
    brand: Brand,
    phone: str,
    guide: Staff | None,
    consent: bool,
    source: str = ConsentRecord.Source.JOIN_PAGE,
    ip: str | None = None,
    name: str = "",
    agreed: dict[str, int | None] | None = None,
) -> JoinResult:
    """A shopper with a verified phone joins (or is recognised) through a guide's link, agreeing
    to the brand's privacy policy and member agreement in force, whose versions the consent record
    keeps. ``agreed``: the versions the page showed; refused if either has changed since."""
    phone = normalize_identity(MemberIdentity.Kind.PHONE, phone)
    if guide is not None and (guide.brand_id != brand.pk or not can_serve(guide)):
        guide = None
    for _attempt in range(3):
        try:
            with brand_scope(brand):
                versions = policy_versions(brand)
                if agreed is not None and any(agreed.get(k) != v for k, v in versions.items()):
                    raise ValidationError(
                        _(
                            "The privacy policy or the member agreement has just changed. "
                            "Please read the current version and join again."
                        ),
                        code="policy_changed",
                    )
                return _join(brand, phone, guide, consent, source, ip, name, versions)
        except IntegrityError:  # a concurrent join of the same phone won; go again and find it
            continue
    raise ValidationError(_("Please try again."))


def _version_fields(versions: dict[str, int | None]) -> dict[str, int | None]:
    return {
        "privacy_version": versions.get(MemberPolicy.Kind.PRIVACY),
        "terms_version": versions.get(MemberPolicy.Kind.TERMS),
    }


def _join(brand, phone, guide, consent, source, ip, name, versions) -> JoinResult:
    identity = (
        MemberIdentity.objects.for_brand(brand)
        .filter(kind=MemberIdentity.Kind.PHONE, value=phone)
        .select_related("member")
        .first()
    )
    actor = Actor.system()
    if identity is not None:
        member = lock_member(member_active(identity.member).pk)
        if not member.is_active:
            raise ValidationError(_("This membership is closed."))
        if not identity.verified:
            MemberIdentity.objects.filter(pk=identity.pk).update(verified=True)
        last = ConsentRecord.objects.filter(member=member).order_by("-created_at", "-id").first()
        granted = consent or (last is not None and last.granted)  # never silently withdrawn
        fields = _version_fields(versions)
        if last is None or last.granted != granted or any(getattr(last, f) != v for f, v in fields.items()):
            # Joining again agrees to the texts in force now (and can give consent).
            ConsentRecord.objects.create(
                brand=brand, member=member, granted=granted, source=source, ip=ip, **fields
            )
            Member.objects.filter(pk=member.pk).update(marketing_consent=granted)
            member.marketing_consent = granted
        current = open_binding(member)
        changed = bind_guide(brand, member, guide, GuideBinding.Reason.JOIN) if guide else False
        kept = (
            current.guide
            if (current is not None and not changed and current.guide_id != getattr(guide, "pk", None))
            else None
        )
        return JoinResult(member=member, created=False, guide_changed=changed, kept_guide=kept)
    store_id = None
    if guide is not None:
        store_id = min(roles.store_ids(guide), default=None)
    member = Member.objects.create(
        brand=brand,
        name=(name or "").strip()[:64],
        join_store_id=store_id,
        join_guide=guide,
        tier=tier_for(brand, 0),
    )
    with transaction.atomic():
        MemberIdentity.objects.create(
            brand=brand, member=member, kind=MemberIdentity.Kind.PHONE, value=phone, verified=True
        )
    ConsentRecord.objects.create(
        brand=brand, member=member, granted=consent, source=source, ip=ip, **_version_fields(versions)
    )
    Member.objects.filter(pk=member.pk).update(marketing_consent=consent)
    member.marketing_consent = consent
    if guide is not None:
        bind_guide(brand, member, guide, GuideBinding.Reason.JOIN)
    events.member_joined(brand=brand, actor=actor, member=member, guide=guide)
    return JoinResult(member=member, created=True, guide_changed=guide is not None, kept_guide=None)


def member_create(
    *,
    brand: Brand,
    actor: Actor,
    identities: list[tuple[str, str]],
    name: str = "",
    guide: Staff | None = None,
    consent: bool = False,
    source: str = ConsentRecord.Source.API,
    verified: bool = False,
) -> tuple[Member, bool]:
    """Create a member from channel identities, or return the one they already belong to.

    Returns (member, created). Identities the found member lacks are added to it.
    """
    if not identities:
        raise ValidationError({"identities": _("Give at least one identity.")})
    clean = [(k, normalize_identity(k, v)) for k, v in identities]
    with brand_scope(brand):
        found = {
            i.member_id
            for i in MemberIdentity.objects.for_brand(brand).filter(
                Q(*[Q(kind=k, value=v) for k, v in clean], _connector=Q.OR)
            )
        }
        if len(found) > 1:
            raise ValidationError(
                {"identities": _("These identities belong to different members; merge them first.")}
            )
        if found:
            member = member_active(Member.objects.get(pk=found.pop()))
            for k, v in clean:
                member = member_identity_add(
                    brand=brand, member=member, kind=k, value=v, verified=verified, actor=actor
                )[0]
            return member, False
        if guide is not None and (guide.brand_id != brand.pk or not can_serve(guide)):
            raise ValidationError({"guide": _("This person cannot be a member's guide.")})
        member = Member.objects.create(
            brand=brand,
            name=(name or "").strip()[:64],
            join_guide=guide,
            tier=tier_for(brand, 0),
            join_store_id=min(roles.store_ids(guide), default=None) if guide else None,
        )
        try:
            with transaction.atomic():
                MemberIdentity.objects.bulk_create(
                    [
                        MemberIdentity(brand=brand, member=member, kind=k, value=v, verified=verified)
                        for k, v in clean
                    ]
                )
        except IntegrityError as exc:
            raise ValidationError({"identities": _("An identity is given twice or was just taken.")}) from exc
        ConsentRecord.objects.create(brand=brand, member=member, granted=consent, source=source)
        Member.objects.filter(pk=member.pk).update(marketing_consent=consent)
        member.marketing_consent = consent
        if guide is not None:
            bind_guide(brand, member, guide, GuideBinding.Reason.ADMIN, actor=actor, force=True)
        events.member_joined(brand=brand, actor=actor, member=member, guide=guide)
    return member, True


def member_identity_add(
    *, brand: Brand, member: Member, kind: str, value: str, verified: bool, actor: Actor, reason: str = ""
) -> tuple[Member, MergeRecord | None]:
    """Attach an identity; if a verified phone or payment account proves the member is another
    record's person, merge the two (the older record survives). Returns (member, merge)."""
    value = normalize_identity(kind, value)
    with brand_scope(brand):
        member = member_active(Member.objects.get(pk=member.pk))
        existing = MemberIdentity.objects.for_brand(brand).filter(kind=kind, value=value).first()
        if existing is None:
            try:
                with transaction.atomic():
                    MemberIdentity.objects.create(
                        brand=brand, member=member, kind=kind, value=value, verified=verified
                    )
            except IntegrityError as exc:
                raise ValidationError({"value": _("This identity was just taken; try again.")}) from exc
            events.identity_added(brand=brand, actor=actor, member=member, kind=kind)
            return member, None
        other = member_active(Member.objects.get(pk=existing.member_id))
        if other.pk == member.pk:
            if verified and not existing.verified:
                MemberIdentity.objects.filter(pk=existing.pk).update(verified=True)
            return member, None
        if kind in PROVING_KINDS and verified and existing.verified:
            survivor, absorbed = sorted([member, other], key=lambda m: (m.joined_at, m.pk))
            record = members_merge(
                brand=brand,
                survivor=survivor,
                absorbed=absorbed,
                actor=actor,
                reason=reason or _("Same verified %(kind)s") % {"kind": MemberIdentity.Kind(kind).label},
                evidence=(kind, value),
            )
            return survivor, record
        raise ValidationError({"value": _("This identity belongs to another member.")})
