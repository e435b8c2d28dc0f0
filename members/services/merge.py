"""Merging two members' records into one, and undoing it."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from members import events
from members.models import GuideBinding, Member, MemberIdentity, MemberTag, MergeRecord, PointsEntry
from members.services.access import require_admin
from members.services.binding import open_binding
from members.services.program import tier_for
from members.services.records import lock_member
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

# Other apps register functions that move their member-owned rows (orders, conversations) in a
# merge and back in an undo: merge(brand, survivor, absorbed) -> json-able data for undo;
# undo(brand, survivor, absorbed, data).
MERGE_HOOKS: dict[str, tuple[Callable, Callable]] = {}


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
        locked = {first: lock_member(first), second: lock_member(second)}
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

        moved["points"] = move_points(
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
        theirs = open_binding(absorbed)
        if theirs is not None:
            theirs.ended_at, theirs.end_reason = now, GuideBinding.Reason.MERGE
            theirs.save(update_fields=["ended_at", "end_reason"])
            mine = open_binding(survivor)
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

        survivor.tier = tier_for(brand, survivor.qualifying_spend_fen)
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


def move_points(
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
    require_admin(brand, manager)
    with brand_scope(brand):
        record = MergeRecord.objects.select_for_update().get(pk=record.pk)
        if record.undone_at:
            raise ValidationError(_("This merge was already undone."))
        first, second = sorted([record.survivor_id, record.absorbed_id])
        locked = {first: lock_member(first), second: lock_member(second)}
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
        move_points(brand, survivor, absorbed, f"undo:{record.pk}", now, lots=back)

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
                if open_binding(survivor) is None:
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

        survivor.tier = tier_for(brand, survivor.qualifying_spend_fen)
        absorbed.tier = tier_for(brand, absorbed.qualifying_spend_fen)
        survivor.save(
            update_fields=["qualifying_spend_fen", "last_purchase_at", "guide", "tier", "points_balance"]
        )
        absorbed.status, absorbed.merged_into = Member.Status.ACTIVE, None
        absorbed.save(update_fields=["status", "merged_into", "guide", "tier", "points_balance"])
        record.undone_at, record.undone_by = now, actor.user
        record.save(update_fields=["undone_at", "undone_by"])
        events.merge_undone(brand=brand, actor=actor, record=record)
    return record
