"""The points ledger: earning, spending, corrections, reversals, expiry and reconciliation."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member, MembershipProgram, PointsEntry
from members.services.access import require_admin
from members.services.program import program_get, tier_for
from members.services.records import lock_member
from retail import idempotency
from retail.events import Actor
from retail.idempotency import request_fingerprint
from retail.models import Brand, Staff
from retail.tenancy import brand_scope


def _insufficient() -> ValidationError:
    return ValidationError({"points": ValidationError(_("Not enough points."), code="insufficient_points")})


def _expiry_for(brand: Brand, program: MembershipProgram, now: datetime.datetime) -> datetime.datetime | None:
    if program.points_expiry == MembershipProgram.Expiry.NEVER:
        return None
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    local = now.astimezone(tz)
    return datetime.datetime(local.year + 1, 12, 31, 23, 59, 59, tzinfo=tz)


def _whole(n) -> bool:
    return isinstance(n, int) and not isinstance(n, bool)


def _points_write(
    brand: Brand, member: Member, source: str, fingerprint: str, write: Callable
) -> PointsEntry | None:
    """Apply ``write`` to the locked member once per ``source``: a replay answers the first entry."""
    if not source or len(source) > 128:
        raise ValidationError(
            {"source": _("A source event (idempotency key) of at most 128 characters is required.")}
        )

    def apply() -> PointsEntry | None:
        locked = lock_member(member.pk)
        if not locked.is_active:
            raise ValidationError(_("This membership is not active."))
        return write(locked)

    with brand_scope(brand):
        return idempotency.once(
            lambda: idempotency.replayed(PointsEntry, brand, source, fingerprint, field="source"), apply
        )


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
            m.tier = tier_for(brand, m.qualifying_spend_fen)
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
    require_admin(brand, manager)
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
        m.tier = tier_for(brand, m.qualifying_spend_fen)
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
            member = lock_member(member_id)
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
