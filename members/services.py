"""Writes of the membership programme. Every function takes its brand and owns its transaction."""

from __future__ import annotations

import datetime
import hashlib
import json
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from members import events
from members.identities import PROVING_KINDS, normalize_identity
from members.models import (
    ConsentRecord,
    GuideBinding,
    Member,
    MemberIdentity,
    MemberPolicy,
    MembershipProgram,
    MemberTag,
    MergeRecord,
    PointsEntry,
    Tag,
    TagRule,
    Tier,
)
from retail import roles
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

# Other apps register functions that move their member-owned rows (orders, conversations) in a
# merge and back in an undo: merge(brand, survivor, absorbed) -> json-able data for undo;
# undo(brand, survivor, absorbed, data).
MERGE_HOOKS: dict[str, tuple[Callable, Callable]] = {}


def _insufficient() -> ValidationError:
    return ValidationError({"points": ValidationError(_("Not enough points."), code="insufficient_points")})


class IdempotencyConflict(ValidationError):
    """The source key was used before with a different request."""


# --- programme, tiers -----------------------------------------------------------------------


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
    _require_admin(brand, manager)
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
    _require_admin(brand, manager)
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


def _tier_for(brand: Brand, spend: int) -> Tier | None:
    return Tier.objects.for_brand(brand).filter(min_spend_fen__lte=spend).order_by("-min_spend_fen").first()


# --- permissions ------------------------------------------------------------------------------


def _require_admin(brand: Brand, manager: Staff) -> None:
    if (
        manager.brand_id != brand.pk
        or manager.status != Staff.Status.ACTIVE
        or not roles.can_manage_stores(manager)
    ):
        raise PermissionDenied(_("You are not allowed to do this."))


def _require_staff(brand: Brand, staff: Staff) -> None:
    if staff.brand_id != brand.pk or staff.status != Staff.Status.ACTIVE:
        raise PermissionDenied(_("You are not allowed to do this."))


def can_serve(staff: Staff | None) -> bool:
    """Whether a staff member can be a member's exclusive guide."""
    return staff is not None and staff.status == Staff.Status.ACTIVE and staff.role != Staff.Role.BRAND_ADMIN


# --- joining and identities -------------------------------------------------------------------


@dataclass
class JoinResult:
    member: Member
    created: bool
    guide_changed: bool
    kept_guide: Staff | None


def _active(member: Member) -> Member:
    """Follow merges to the record that now stands for the person."""
    seen = 0
    while member.status == Member.Status.MERGED and member.merged_into_id and seen < 10:
        member = Member.objects.get(pk=member.merged_into_id)
        seen += 1
    return member


def _lock(member_id: int) -> Member:
    return Member.objects.select_for_update(no_key=True).get(pk=member_id)


def _open_binding(member: Member) -> GuideBinding | None:
    return GuideBinding.objects.filter(member=member, ended_at__isnull=True).select_related("guide").first()


def _bind(
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
    current = _open_binding(member)
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
    events.member_bound(brand=brand, actor=actor, member=member, guide=guide, reason=reason)
    return True


def _record_consent(member: Member, granted: bool, source: str, ip: str | None) -> None:
    last = ConsentRecord.objects.filter(member=member).order_by("-created_at", "-id").first()
    if last is not None and last.granted == granted:
        return
    ConsentRecord.objects.create(
        brand_id=member.brand_id, member=member, granted=granted, source=source, ip=ip
    )
    Member.objects.filter(pk=member.pk).update(marketing_consent=granted)
    member.marketing_consent = granted


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
        return _active(identity.member) if identity else None


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
                versions = _policy_versions(brand)
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


def _policy_versions(brand: Brand) -> dict[str, int | None]:
    """The version numbers in force of the texts members agree to, by kind."""
    current = dict(
        MemberPolicy.objects.filter(brand=brand)
        .values_list("kind")
        .annotate(v=Max("version"))
        .values_list("kind", "v")
    )
    return {kind: current.get(kind) for kind in MemberPolicy.Kind.values}


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
        member = _lock(_active(identity.member).pk)
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
        current = _open_binding(member)
        changed = _bind(brand, member, guide, GuideBinding.Reason.JOIN) if guide else False
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
        tier=_tier_for(brand, 0),
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
        _bind(brand, member, guide, GuideBinding.Reason.JOIN)
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
            member = _active(Member.objects.get(pk=found.pop()))
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
            tier=_tier_for(brand, 0),
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
            _bind(brand, member, guide, GuideBinding.Reason.ADMIN, actor=actor, force=True)
        events.member_joined(brand=brand, actor=actor, member=member, guide=guide)
    return member, True


def member_identity_add(
    *, brand: Brand, member: Member, kind: str, value: str, verified: bool, actor: Actor, reason: str = ""
) -> tuple[Member, MergeRecord | None]:
    """Attach an identity; if a verified phone or payment account proves the member is another
    record's person, merge the two (the older record survives). Returns (member, merge)."""
    value = normalize_identity(kind, value)
    with brand_scope(brand):
        member = _active(Member.objects.get(pk=member.pk))
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
        other = _active(Member.objects.get(pk=existing.member_id))
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


# --- merge and undo -------------------------------------------------------------------------------


def members_merge(
    *,
    brand: Brand,
    survivor: Member,
    absorbed: Member,
    actor: Actor,
    reason: str,
    evidence: tuple[str, str] | None = None,
) -> MergeRecord:
    """Fold ``absorbed`` into ``survivor``: identities, points, spend, tier, tags, guide binding
    and whatever other apps registered survive on ``survivor``; recorded so an admin can undo."""
    if survivor.pk == absorbed.pk:
        raise ValidationError(_("A member cannot be merged with itself."))
    with brand_scope(brand):
        first, second = sorted([survivor.pk, absorbed.pk])
        locked = {first: _lock(first), second: _lock(second)}
        survivor, absorbed = locked[survivor.pk], locked[absorbed.pk]
        if not (survivor.is_active and absorbed.is_active):
            raise ValidationError(_("Only active members can be merged."))
        now = timezone.now()
        moved: dict[str, Any] = {}

        ids = list(MemberIdentity.objects.filter(member=absorbed).values_list("pk", flat=True))
        MemberIdentity.objects.filter(pk__in=ids).update(member=survivor)
        moved["identities"] = ids

        have = set(MemberTag.objects.filter(member=survivor).values_list("tag_id", flat=True))
        new_tags = MemberTag.objects.bulk_create(
            [
                MemberTag(brand=brand, member=survivor, tag_id=t, source=MemberTag.Source.MERGE)
                for t in MemberTag.objects.filter(member=absorbed).values_list("tag_id", flat=True)
                if t not in have
            ]
        )
        moved["tags"] = [t.pk for t in new_tags]

        moved["points"] = _move_points(
            brand, absorbed, survivor, f"merge:{absorbed.pk}:{now.timestamp()}", now
        )

        moved["spend_fen"] = absorbed.qualifying_spend_fen
        survivor.qualifying_spend_fen += absorbed.qualifying_spend_fen
        if absorbed.last_purchase_at and (
            survivor.last_purchase_at is None or absorbed.last_purchase_at > survivor.last_purchase_at
        ):
            moved["last_purchase_at"] = (
                survivor.last_purchase_at.isoformat() if survivor.last_purchase_at else None
            )
            survivor.last_purchase_at = absorbed.last_purchase_at

        moved["binding"] = None
        theirs = _open_binding(absorbed)
        if theirs is not None:
            theirs.ended_at, theirs.end_reason = now, GuideBinding.Reason.MERGE
            theirs.save(update_fields=["ended_at", "end_reason"])
            mine = _open_binding(survivor)
            moved["binding"] = {
                "absorbed_binding": theirs.pk,
                "guide": theirs.guide_id,
                "taken": mine is None,
            }
            if mine is None:
                new = GuideBinding.objects.create(
                    brand=brand,
                    member=survivor,
                    guide=theirs.guide,
                    started_at=now,
                    start_reason=GuideBinding.Reason.MERGE,
                    created_by=actor.user,
                )
                moved["binding"]["survivor_binding"] = new.pk
                survivor.guide_id = theirs.guide_id
        moved["hooks"] = {
            name: merge(brand, survivor, absorbed) for name, (merge, _undo) in MERGE_HOOKS.items()
        }

        survivor.tier = _tier_for(brand, survivor.qualifying_spend_fen)
        survivor.save(
            update_fields=["qualifying_spend_fen", "last_purchase_at", "guide", "tier", "points_balance"]
        )
        absorbed.status, absorbed.merged_into, absorbed.guide = Member.Status.MERGED, survivor, None
        absorbed.save(update_fields=["status", "merged_into", "guide", "points_balance"])
        record = MergeRecord.objects.create(
            brand=brand,
            survivor=survivor,
            absorbed=absorbed,
            reason=reason[:200],
            evidence_kind=evidence[0] if evidence else "",
            evidence_value=evidence[1] if evidence else "",
            moved=moved,
            created_by=actor.user,
        )
        events.members_merged(brand=brand, actor=actor, record=record)
    return record


def _move_points(
    brand: Brand, source: Member, target: Member, key: str, now, lots: list[PointsEntry] | None = None
) -> dict:
    """Move ``source``'s open lots (or just ``lots``) to ``target``, same amounts and expiry dates."""
    if lots is None:
        lots = list(PointsEntry.objects.filter(member=source, remaining__gt=0).order_by("expires_at", "pk"))
    lots = [lot for lot in lots if lot.remaining > 0]
    total = sum(lot.remaining for lot in lots)
    if not total:
        return {"total": 0, "lots": [], "target_lots": []}
    for lot in lots:
        lot_remaining, lot.remaining = lot.remaining, 0
        lot._moved = lot_remaining
    PointsEntry.objects.bulk_update(lots, ["remaining"])
    source.points_balance -= total
    PointsEntry.objects.create(
        brand=brand,
        member=source,
        kind=PointsEntry.Kind.MERGE_OUT,
        amount=-total,
        balance_after=source.points_balance,
        source=f"{key}:out",
        created_at=now,
    )
    created = []
    balance = target.points_balance
    for i, lot in enumerate(lots):
        balance += lot._moved
        created.append(
            PointsEntry(
                brand=brand,
                member=target,
                kind=PointsEntry.Kind.MERGE_IN,
                amount=lot._moved,
                remaining=lot._moved,
                balance_after=balance,
                source=f"{key}:in:{i}",
                expires_at=lot.expires_at,
                created_at=now,
            )
        )
    PointsEntry.objects.bulk_create(created)
    target.points_balance = balance
    return {
        "total": total,
        "lots": [[lot.pk, lot._moved] for lot in lots],
        "target_lots": [e.pk for e in created],
    }


def merge_undo(*, brand: Brand, manager: Staff, actor: Actor, record: MergeRecord) -> MergeRecord:
    """Split a merge again. Points the survivor has spent since stay spent."""
    _require_admin(brand, manager)
    with brand_scope(brand):
        record = MergeRecord.objects.select_for_update().get(pk=record.pk)
        if record.undone_at:
            raise ValidationError(_("This merge was already undone."))
        first, second = sorted([record.survivor_id, record.absorbed_id])
        locked = {first: _lock(first), second: _lock(second)}
        survivor, absorbed = locked[record.survivor_id], locked[record.absorbed_id]
        if survivor.status != Member.Status.ACTIVE:
            raise ValidationError(_("The surviving member is no longer active."))
        moved, now = record.moved, timezone.now()

        MemberIdentity.objects.filter(pk__in=moved.get("identities", []), member=survivor).update(
            member=absorbed
        )
        MemberTag.objects.filter(pk__in=moved.get("tags", []), member=survivor).delete()

        pts = moved.get("points") or {}
        back = list(
            PointsEntry.objects.filter(pk__in=pts.get("target_lots", []), remaining__gt=0).order_by("pk")
        )
        _move_points(brand, survivor, absorbed, f"undo:{record.pk}", now, lots=back)

        survivor.qualifying_spend_fen = max(0, survivor.qualifying_spend_fen - moved.get("spend_fen", 0))
        if "last_purchase_at" in moved:
            prev = moved["last_purchase_at"]
            survivor.last_purchase_at = datetime.datetime.fromisoformat(prev) if prev else None

        binding = moved.get("binding")
        if binding:
            if binding.get("survivor_binding"):
                GuideBinding.objects.filter(pk=binding["survivor_binding"], ended_at__isnull=True).update(
                    ended_at=now, end_reason=GuideBinding.Reason.UNDO
                )
                if _open_binding(survivor) is None:
                    survivor.guide = None
            guide = Staff.objects.filter(pk=binding["guide"]).first()
            if guide is not None:
                GuideBinding.objects.create(
                    brand=brand,
                    member=absorbed,
                    guide=guide,
                    started_at=now,
                    start_reason=GuideBinding.Reason.UNDO,
                    created_by=actor.user,
                )
                absorbed.guide = guide
        for name, data in (moved.get("hooks") or {}).items():
            if name in MERGE_HOOKS:
                MERGE_HOOKS[name][1](brand, survivor, absorbed, data)

        survivor.tier = _tier_for(brand, survivor.qualifying_spend_fen)
        absorbed.tier = _tier_for(brand, absorbed.qualifying_spend_fen)
        survivor.save(
            update_fields=["qualifying_spend_fen", "last_purchase_at", "guide", "tier", "points_balance"]
        )
        absorbed.status, absorbed.merged_into = Member.Status.ACTIVE, None
        absorbed.save(update_fields=["status", "merged_into", "guide", "tier", "points_balance"])
        record.undone_at, record.undone_by = now, actor.user
        record.save(update_fields=["undone_at", "undone_by"])
        events.merge_undone(brand=brand, actor=actor, record=record)
    return record


# --- points ---------------------------------------------------------------------------------------


def request_fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _expiry_for(brand: Brand, program: MembershipProgram, now: datetime.datetime) -> datetime.datetime | None:
    if program.points_expiry == MembershipProgram.Expiry.NEVER:
        return None
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    local = now.astimezone(tz)
    return datetime.datetime(local.year + 1, 12, 31, 23, 59, 59, tzinfo=tz)


def _replayed(brand: Brand, source: str, fingerprint: str) -> PointsEntry | None:
    entry = PointsEntry.objects.for_brand(brand).filter(source=source).first()
    if entry is None:
        return None
    if entry.request_hash != fingerprint:
        raise IdempotencyConflict(
            _("This idempotency key was already used for a different request."), code="idempotency_conflict"
        )
    entry.replayed = True
    return entry


def _whole(n) -> bool:
    return isinstance(n, int) and not isinstance(n, bool)


def _points_write(
    brand: Brand, member: Member, source: str, fingerprint: str, write: Callable
) -> PointsEntry | None:
    if not source or len(source) > 128:
        raise ValidationError(
            {"source": _("A source event (idempotency key) of at most 128 characters is required.")}
        )
    with brand_scope(brand):
        replay = _replayed(brand, source, fingerprint)
        if replay is not None:
            return replay
        try:
            with transaction.atomic():
                locked = _lock(member.pk)
                if not locked.is_active:
                    raise ValidationError(_("This membership is not active."))
                entry = write(locked)
                if entry is not None:
                    entry.replayed = False
                return entry
        except IntegrityError:
            # The same source raced us and won: answer as a replay (or a conflict).
            replay = _replayed(brand, source, fingerprint)
            if replay is None:
                raise
            return replay


def points_earn(
    *,
    brand: Brand,
    member: Member,
    points: int,
    source: str,
    note: str = "",
    spend_fen: int = 0,
    actor: Actor | None = None,
) -> PointsEntry:
    """Add points (and optionally qualifying spend), once per source event."""
    if not _whole(points) or points <= 0:
        raise ValidationError({"points": _("Points must be a positive whole number.")})
    if not _whole(spend_fen) or spend_fen < 0:
        raise ValidationError({"spend_fen": _("Spend must be zero or more fen.")})
    fingerprint = request_fingerprint(
        {"op": "earn", "member": member.pk, "points": points, "spend": spend_fen}
    )

    def write(m: Member) -> PointsEntry:
        now = timezone.now()
        m.points_balance += points
        fields = ["points_balance"]
        if spend_fen:
            m.qualifying_spend_fen += spend_fen
            m.last_purchase_at = now
            m.tier = _tier_for(brand, m.qualifying_spend_fen)
            fields += ["qualifying_spend_fen", "last_purchase_at", "tier"]
        m.save(update_fields=fields)
        return PointsEntry.objects.create(
            brand=brand,
            member=m,
            kind=PointsEntry.Kind.EARN,
            amount=points,
            remaining=points,
            balance_after=m.points_balance,
            source=source,
            request_hash=fingerprint,
            note=note[:200],
            expires_at=_expiry_for(brand, program_get(brand=brand), now),
            created_at=now,
            created_by=actor.user if actor else None,
        )

    return _points_write(brand, member, source, fingerprint, write)


def points_redeem(
    *, brand: Brand, member: Member, points: int, source: str, note: str = "", actor: Actor | None = None
) -> PointsEntry:
    """Spend points, oldest-expiring first; refused if the balance would go negative."""
    if not _whole(points) or points <= 0:
        raise ValidationError({"points": _("Points must be a positive whole number.")})
    fingerprint = request_fingerprint({"op": "redeem", "member": member.pk, "points": points})

    def write(m: Member) -> PointsEntry:
        if m.points_balance < points:
            raise _insufficient()
        _consume(m, points)
        m.points_balance -= points
        m.save(update_fields=["points_balance"])
        return PointsEntry.objects.create(
            brand=brand,
            member=m,
            kind=PointsEntry.Kind.REDEEM,
            amount=-points,
            balance_after=m.points_balance,
            source=source,
            request_hash=fingerprint,
            note=note[:200],
            created_by=actor.user if actor else None,
        )

    return _points_write(brand, member, source, fingerprint, write)


def points_adjust(
    *, brand: Brand, manager: Staff, member: Member, points: int, source: str, note: str, actor: Actor
) -> PointsEntry:
    """A staff correction, positive or negative, with a reason."""
    _require_admin(brand, manager)
    if not _whole(points) or points == 0:
        raise ValidationError({"points": _("Give a non-zero whole number.")})
    if not (note or "").strip():
        raise ValidationError({"note": _("Say why.")})
    fingerprint = request_fingerprint({"op": "adjust", "member": member.pk, "points": points})

    def write(m: Member) -> PointsEntry:
        if points < 0:
            if m.points_balance < -points:
                raise _insufficient()
            _consume(m, -points)
        m.points_balance += points
        m.save(update_fields=["points_balance"])
        return PointsEntry.objects.create(
            brand=brand,
            member=m,
            kind=PointsEntry.Kind.ADJUST,
            amount=points,
            remaining=max(points, 0),
            balance_after=m.points_balance,
            source=source,
            request_hash=fingerprint,
            note=note[:200],
            expires_at=_expiry_for(brand, program_get(brand=brand), timezone.now()) if points > 0 else None,
            created_by=actor.user,
        )

    return _points_write(brand, member, source, fingerprint, write)


def points_reverse(
    *, brand: Brand, member: Member, points: int, spend_fen: int, source: str, note: str = ""
) -> PointsEntry | None:
    """Take back what a refunded purchase earned: its points (as far as the balance allows, since
    the member may have spent them) and its qualifying spend; once per source event."""
    if not _whole(points) or points < 0 or not _whole(spend_fen) or spend_fen < 0:
        raise ValidationError(_("Give whole, non-negative numbers."))
    if points == 0 and spend_fen == 0:
        return None
    fingerprint = request_fingerprint(
        {"op": "reverse", "member": member.pk, "points": points, "spend": spend_fen}
    )

    def write(m: Member) -> PointsEntry | None:
        take = min(points, m.points_balance)
        if take:
            _consume(m, take)
        m.points_balance -= take
        m.qualifying_spend_fen = max(0, m.qualifying_spend_fen - spend_fen)
        m.tier = _tier_for(brand, m.qualifying_spend_fen)
        m.save(update_fields=["points_balance", "qualifying_spend_fen", "tier"])
        if not take:
            # Nothing left to take back (the member spent them): the spend change alone is made,
            # guarded against replays by the caller's own once-only record (the refund).
            return None
        shortfall = points - take
        return PointsEntry.objects.create(
            brand=brand,
            member=m,
            kind=PointsEntry.Kind.REVERSE,
            amount=-take,
            balance_after=m.points_balance,
            source=source,
            request_hash=fingerprint,
            note=(note + (f" (short by {shortfall})" if shortfall else ""))[:200],
        )

    return _points_write(brand, member, source, fingerprint, write)


def _consume(member: Member, points: int) -> None:
    """Take ``points`` from the member's open lots, soonest-expiring first (member row is locked)."""
    lots = list(
        PointsEntry.objects.filter(member=member, remaining__gt=0).order_by(
            F("expires_at").asc(nulls_last=True), "pk"
        )
    )
    left = points
    changed = []
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        lot.remaining -= take
        left -= take
        changed.append(lot)
    if left:
        raise _insufficient()
    PointsEntry.objects.bulk_update(changed, ["remaining"])


def points_expire_due(*, brand: Brand, now: datetime.datetime | None = None) -> int:
    """Expire every lot past its date, one entry per member per run date; returns members touched.

    Idempotent: a second run finds no open expired lots."""
    now = now or timezone.now()
    touched = 0
    with brand_scope(brand):
        member_ids = list(
            PointsEntry.objects.for_brand(brand)
            .filter(remaining__gt=0, expires_at__lte=now)
            .values_list("member_id", flat=True)
            .distinct()
        )
    for member_id in member_ids:
        with brand_scope(brand):
            member = _lock(member_id)
            lots = list(PointsEntry.objects.filter(member=member, remaining__gt=0, expires_at__lte=now))
            total = sum(lot.remaining for lot in lots)
            if not total:
                continue
            for lot in lots:
                lot.remaining = 0
            PointsEntry.objects.bulk_update(lots, ["remaining"])
            member.points_balance -= total
            member.save(update_fields=["points_balance"])
            PointsEntry.objects.create(
                brand=brand,
                member=member,
                kind=PointsEntry.Kind.EXPIRE,
                amount=-total,
                balance_after=member.points_balance,
                source=f"expire:{member.pk}:{min(lot.pk for lot in lots)}",
                note=_("Points expired"),
                created_at=now,
            )
            touched += 1
    return touched


def points_reconcile(*, brand: Brand) -> list[int]:
    """Members whose cached balance differs from the sum of their ledger or their open lots."""
    with brand_scope(brand):
        ledger = (
            PointsEntry.objects.for_brand(brand)
            .values("member_id")
            .annotate(total=Sum("amount"), open=Sum("remaining"))
        )
        balances = dict(Member.objects.for_brand(brand).values_list("pk", "points_balance"))
        bad = [
            r["member_id"] for r in ledger if not (r["total"] == r["open"] == balances.get(r["member_id"]))
        ]
        with_entries = {r["member_id"] for r in ledger}
        bad += [pk for pk, bal in balances.items() if pk not in with_entries and bal != 0]
        return sorted(bad)


# --- tags -----------------------------------------------------------------------------------------


def tag_create(*, brand: Brand, manager: Staff, actor: Actor, name: str, group: str = Tag.Group.OTHER) -> Tag:
    _require_admin(brand, manager)
    name = (name or "").strip()
    if not name or len(name) > 32:
        raise ValidationError({"name": _("A tag name of 1 to 32 characters.")})
    if group not in Tag.Group.values:
        raise ValidationError({"group": _("Unknown group.")})
    with brand_scope(brand):
        if Tag.objects.for_brand(brand).filter(name=name).exists():
            raise ValidationError({"name": _("This tag already exists.")})
        tag = Tag.objects.create(brand=brand, name=name, group=group)
        events.tag_created(brand=brand, actor=actor, tag=tag)
    return tag


def member_tags_change(
    *,
    brand: Brand,
    staff: Staff,
    actor: Actor,
    member: Member,
    add: Iterable[int] = (),
    remove: Iterable[int] = (),
    source: str = MemberTag.Source.STAFF,
) -> list[Tag]:
    """Add and remove tags on a member; returns the member's tags."""
    _require_staff(brand, staff)
    add, remove = set(add), set(remove)
    with brand_scope(brand):
        known = set(Tag.objects.for_brand(brand).filter(pk__in=add | remove).values_list("pk", flat=True))
        if known != add | remove:
            raise ValidationError({"tags": _("Unknown tag.")})
        MemberTag.objects.filter(member=member, tag_id__in=remove).delete()
        have = set(MemberTag.objects.filter(member=member).values_list("tag_id", flat=True))
        MemberTag.objects.bulk_create(
            [MemberTag(brand=brand, member=member, tag_id=t, source=source) for t in add - have],
            ignore_conflicts=True,
        )
        if add - have or remove:
            events.member_tags_changed(
                brand=brand, actor=actor, member=member, added=add - have, removed=remove
            )
        return list(Tag.objects.for_brand(brand).filter(member_tags__member=member).order_by("group", "name"))


def tag_rule_save(
    *, brand: Brand, manager: Staff, actor: Actor, tag: Tag, field: str, op: str, value: int
) -> TagRule:
    _require_admin(brand, manager)
    with brand_scope(brand):
        rule, _created = TagRule.objects.update_or_create(
            brand=brand, tag=tag, defaults={"field": field, "op": op, "value": value}
        )
        rule.full_clean(exclude=["brand", "tag"], validate_constraints=False)
        tag_rules_apply(brand=brand)
    return rule


def tag_rules_apply(*, brand: Brand, now: datetime.datetime | None = None) -> int:
    """Apply every tag rule set-based: tag matching members, untag rule-tagged ones that no
    longer match. Returns the number of rows changed."""
    now = now or timezone.now()
    changed = 0
    with brand_scope(brand):
        for rule in TagRule.objects.for_brand(brand).select_related("tag"):
            matching = Member.objects.for_brand(brand).filter(status=Member.Status.ACTIVE)
            if rule.field == TagRule.Field.DAYS_SINCE_PURCHASE:
                cutoff = now - datetime.timedelta(days=rule.value)
                cond = (
                    Q(last_purchase_at__lte=cutoff)
                    if rule.op == TagRule.Op.GTE
                    else Q(last_purchase_at__gte=cutoff)
                )
            else:
                cond = Q(**{f"{rule.field}__{rule.op}": rule.value})
            matching = matching.filter(cond)
            stale = MemberTag.objects.filter(tag=rule.tag, source=MemberTag.Source.RULE).exclude(
                member__in=matching.values("pk")
            )
            changed += stale.delete()[0]
            new = matching.exclude(member_tags__tag=rule.tag).values_list("pk", flat=True)
            rows = [
                MemberTag(brand=brand, member_id=pk, tag=rule.tag, source=MemberTag.Source.RULE) for pk in new
            ]
            MemberTag.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
            changed += len(rows)
    return changed


# --- guides -------------------------------------------------------------------------------------------


def member_guide_set(*, brand: Brand, staff: Staff, actor: Actor, member: Member, guide: Staff) -> Member:
    """Staff (a manager) or the member's own request picks the member's exclusive guide."""
    _require_staff(brand, staff)
    if not roles.can_manage_staff(staff):
        raise PermissionDenied(_("You are not allowed to do this."))
    if guide.brand_id != brand.pk or not can_serve(guide):
        raise ValidationError({"guide": _("This person cannot be a member's guide.")})
    with brand_scope(brand):
        member = _lock(member.pk)
        _bind(brand, member, guide, GuideBinding.Reason.ADMIN, actor=actor, force=True)
    return member


def member_guide_request(*, brand: Brand, member: Member, guide: Staff) -> Member:
    """The member asks to be served by ``guide`` (from the join page of that guide)."""
    if guide.brand_id != brand.pk or not can_serve(guide):
        raise ValidationError({"guide": _("This person cannot be a member's guide.")})
    with brand_scope(brand):
        member = _lock(member.pk)
        _bind(brand, member, guide, GuideBinding.Reason.MEMBER_REQUEST, force=True)
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
    _require_staff(brand, manager)
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
            brand=brand, actor=actor, from_guide=from_guide, to_guide=to_guide, count=len(ids)
        )
    return len(ids)


# --- the texts members agree to ------------------------------------------------------------------

POLICY_MAX_CHARS = 50_000


def member_policy_publish(
    *, brand: Brand, manager: Staff, actor: Actor, kind: str, body: str
) -> tuple[MemberPolicy, bool]:
    """Put a new version of the privacy policy or the member agreement in force (brand admins).
    The same text as the version in force changes nothing. Returns (version in force, created)."""
    _require_admin(brand, manager)
    if kind not in MemberPolicy.Kind.values:
        raise ValidationError({"kind": _("Unknown kind of text.")})
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationError({"body": _("Write the text.")})
    if len(body) > POLICY_MAX_CHARS:
        raise ValidationError({"body": _("At most %(n)s characters.") % {"n": POLICY_MAX_CHARS}})
    with brand_scope(brand):
        # One editor at a time per brand: the program row is the lock.
        MembershipProgram.objects.select_for_update().filter(pk=program_get(brand=brand).pk).first()
        current = MemberPolicy.objects.filter(kind=kind).order_by("-version").first()
        if current is not None and current.body == body:
            return current, False
        policy = MemberPolicy.objects.create(
            brand=brand,
            kind=kind,
            version=current.version + 1 if current else 1,
            body=body,
            created_by=actor.user,
        )
        events.policy_published(brand=brand, actor=actor, policy=policy)
    return policy, True


# --- privacy -------------------------------------------------------------------------------------


def member_consent_set(
    *, brand: Brand, member: Member, granted: bool, source: str, ip: str | None = None
) -> Member:
    with brand_scope(brand):
        member = _lock(member.pk)
        _record_consent(member, granted, source, ip)
    return member


def member_erase(*, brand: Brand, member: Member, actor: Actor, source: str) -> Member:
    """The member's right to be forgotten: personal data erased, ledgers kept balanced."""
    with brand_scope(brand):
        member = _lock(member.pk)
        if member.status == Member.Status.ERASED:
            return member
        now = timezone.now()
        MemberIdentity.objects.filter(member=member).delete()
        MemberTag.objects.filter(member=member).delete()
        GuideBinding.objects.filter(member=member, ended_at__isnull=True).update(
            ended_at=now, end_reason=GuideBinding.Reason.ERASED
        )
        _record_consent(member, False, source, None)
        member.name, member.gender, member.birthday = "", "", None
        member.status, member.erased_at, member.guide = Member.Status.ERASED, now, None
        member.save(update_fields=["name", "gender", "birthday", "status", "erased_at", "guide"])
        events.member_erased(brand=brand, actor=actor, member=member)
    return member


def member_update(
    *, brand: Brand, staff: Staff, actor: Actor, member: Member, data: dict[str, Any]
) -> Member:
    _require_staff(brand, staff)
    with brand_scope(brand):
        member = _lock(member.pk)
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
