"""Audit events of the membership programme, written in the same transaction as the change; a
member joining and a merge are also emitted through the outbox (retail/outbox.py: webhooks)."""

from __future__ import annotations

from retail import outbox
from retail.events import Actor
from retail.events import record as audit
from retail.models import Brand


def _member(member) -> str:
    """Members appear in the audit log by number only: erasing a member must not leave their
    name behind in an append-only table."""
    return f"#{member.pk}"


def member_joined(*, brand: Brand, actor: Actor | None, member, guide) -> None:
    audit(
        brand=brand,
        actor=actor,
        action="member.joined",
        target=member,
        target_repr=_member(member),
        data={"guide": guide.pk if guide else None},
    )
    outbox.emit(
        brand_id=brand.pk,
        name="member.joined",
        payload={"member_id": member.pk, "guide_id": guide.pk if guide else None},
    )


def member_bound(
    *, brand: Brand, actor: Actor | None, member, guide, reason: str, previous_id: int | None = None
) -> None:
    audit(
        brand=brand,
        actor=actor,
        action="member.guide_bound",
        target=member,
        target_repr=_member(member),
        data={"guide": guide.pk, "reason": reason},
    )
    guide_changed(brand=brand, member_ids=[member.pk], guide=guide, previous_id=previous_id, reason=reason)


def guide_changed(
    *, brand: Brand, member_ids: list[int], guide, previous_id: int | None, reason: str
) -> None:
    """Outbox ``member.guide_changed``: these members have a new exclusive guide (their
    conversations follow; messaging tells them who the new guide is)."""
    outbox.emit(
        brand_id=brand.pk,
        name="member.guide_changed",
        payload={
            "member_ids": list(member_ids),
            "guide_id": guide.pk,
            "previous_guide_id": previous_id,
            "reason": reason,
        },
    )


def member_updated(*, brand: Brand, actor: Actor, member, fields: list[str]) -> None:
    audit(
        brand=brand,
        actor=actor,
        action="member.updated",
        target=member,
        target_repr=_member(member),
        data={"fields": fields},
    )


def identity_added(*, brand: Brand, actor: Actor, member, kind: str) -> None:
    audit(
        brand=brand,
        actor=actor,
        action="member.identity_added",
        target=member,
        target_repr=_member(member),
        data={"kind": kind},
    )


def members_merged(*, brand: Brand, actor: Actor, record) -> None:
    audit(
        brand=brand,
        actor=actor,
        action="member.merged",
        target=record.survivor,
        target_repr=_member(record.survivor),
        data={"absorbed": record.absorbed_id, "merge": record.pk, "reason": record.reason},
    )
    outbox.emit(
        brand_id=brand.pk,
        name="member.merged",
        payload={"merge_id": record.pk, "survivor_id": record.survivor_id, "absorbed_id": record.absorbed_id},
    )


def merge_undone(*, brand: Brand, actor: Actor, record) -> None:
    audit(
        brand=brand,
        actor=actor,
        action="member.merge_undone",
        target=record.survivor,
        target_repr=_member(record.survivor),
        data={"absorbed": record.absorbed_id, "merge": record.pk},
    )


def member_tags_changed(*, brand: Brand, actor: Actor, member, added, removed) -> None:
    audit(
        brand=brand,
        actor=actor,
        action="member.tags_changed",
        target=member,
        target_repr=_member(member),
        data={"added": sorted(added), "removed": sorted(removed)},
    )


def tag_created(*, brand: Brand, actor: Actor, tag) -> None:
    audit(brand=brand, actor=actor, action="tag.created", target=tag)


def members_handed_over(*, brand: Brand, actor: Actor, from_guide, to_guide, member_ids: list[int]) -> None:
    audit(
        brand=brand,
        actor=actor,
        action="member.handover",
        target=from_guide,
        data={"to_guide": to_guide.pk, "count": len(member_ids)},
    )
    guide_changed(
        brand=brand, member_ids=member_ids, guide=to_guide, previous_id=from_guide.pk, reason="handover"
    )


def member_erased(*, brand: Brand, actor: Actor, member) -> None:
    audit(brand=brand, actor=actor, action="member.erased", target=member, target_repr=_member(member))


def program_updated(*, brand: Brand, actor: Actor, program) -> None:
    audit(
        brand=brand,
        actor=actor,
        action="membership.program_updated",
        target=None,
        data={"points_per_yuan": program.points_per_yuan, "binding_policy": program.binding_policy},
    )


def tier_saved(*, brand: Brand, actor: Actor, tier) -> None:
    audit(
        brand=brand,
        actor=actor,
        action="membership.tier_saved",
        target=tier,
        data={"min_spend_fen": tier.min_spend_fen},
    )


def job_started(*, brand: Brand, actor: Actor, job) -> None:
    audit(brand=brand, actor=actor, action=f"member.{job.kind}_started", target=job)


def policy_published(*, brand: Brand, actor: Actor, policy) -> None:
    audit(
        brand=brand,
        actor=actor,
        action="member_policy.published",
        target=policy,
        data={"kind": policy.kind, "version": policy.version},
    )
