"""Sending, claiming and expiring red packets.

Sending debits the brand's pool into the packet's own account and fixes every share's amount
up front (a lucky packet's random split is drawn once, so the shares add up to the total by
construction). Claiming locks the packet row, so concurrent claimers queue on it: each takes the
next unclaimed share, once (a unique constraint per packet and person backs this up), and the
share's money moves from the packet's account to the claimer's wallet. Expiry returns what is
left to the pool, once.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from redpackets import events
from redpackets.models import Account, PacketRecipient, PacketShare, RedPacket, Transaction
from redpackets.services import ledger
from redpackets.services.limits import settings_get
from retail import roles
from retail.events import Actor
from retail.idempotency import digest, once, replay, replayed
from retail.models import Brand, Staff, StaffStore, Store
from retail.money import yuan
from retail.outbox import enqueue_on_commit
from retail.tenancy import brand_scope

P = RedPacket
_rng = secrets.SystemRandom()


def _error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def _whole(n) -> bool:
    return isinstance(n, int) and not isinstance(n, bool)


def lucky_split(total_fen: int, shares: int, cap_fen: int, rng=_rng) -> list[int]:
    """Split ``total_fen`` into ``shares`` random parts, each between 1 fen and ``cap_fen``, that
    add up exactly (the "double average" method: each draw is at most twice the mean left)."""
    if shares < 1 or total_fen < shares or total_fen > shares * cap_fen:
        raise ValueError("cannot split")
    parts: list[int] = []
    remaining = total_fen
    for left in range(shares, 1, -1):
        lo = max(1, remaining - cap_fen * (left - 1))
        hi = min(cap_fen, remaining - (left - 1), max(lo, 2 * remaining // left))
        amount = rng.randint(lo, hi)
        parts.append(amount)
        remaining -= amount
    parts.append(remaining)
    rng.shuffle(parts)
    return parts


def _recipients(
    brand: Brand, sender: Staff | None, audience: str, staff_ids: Sequence[int] | None, store_id: int | None
) -> list[int]:
    """The staff ids who may claim, checked against what the sender may reach."""
    active = Staff.objects.for_brand(brand).filter(status=Staff.Status.ACTIVE)
    if audience == P.Audience.STORE:
        if not store_id:
            raise _error("store_id", _("Choose a store."), "required")
        if not _whole(store_id) or not Store.objects.for_brand(brand).filter(pk=store_id).exists():
            raise _error("store_id", _("No such store."), "unknown_store")
        if sender is not None and not roles.can_manage_store(sender, store_id):
            raise _error("store_id", _("You can only send to stores you manage."), "not_allowed")
        ids = set(
            StaffStore.objects.for_brand(brand)
            .filter(store_id=store_id, staff__status=Staff.Status.ACTIVE)
            .values_list("staff_id", flat=True)
        )
    else:
        wanted = list(dict.fromkeys(staff_ids or []))
        if not wanted or not all(_whole(i) and i > 0 for i in wanted):
            raise _error("staff_ids", _("Choose who receives it."), "required")
        if audience == P.Audience.PERSON and len(wanted) != 1:
            raise _error("staff_ids", _("A packet for one person names exactly one person."))
        found = {s.pk: s for s in active.filter(pk__in=wanted)}
        if len(found) != len(wanted):
            raise _error(
                "staff_ids", _("Some of these people are not active staff of this brand."), "unknown_staff"
            )
        if sender is not None and not sender.is_brand_admin:
            mine = roles.store_ids(sender)
            links = StaffStore.objects.for_brand(brand).filter(staff_id__in=wanted, store_id__in=mine)
            reachable = set(links.values_list("staff_id", flat=True))
            if reachable != set(wanted):
                raise _error(
                    "staff_ids", _("You can only send to staff of stores you manage."), "not_allowed"
                )
        ids = set(wanted)
    if sender is not None:
        ids.discard(sender.pk)
    if not ids:
        raise _error("staff_ids", _("Nobody could receive this packet."), "no_recipients")
    return sorted(ids)


def packet_send(
    *,
    brand: Brand,
    sender: Staff | None,
    actor: Actor | None,
    kind: str,
    audience: str,
    greeting: str,
    key: str,
    fingerprint: str,
    staff_ids: Sequence[int] | None = None,
    store_id: int | None = None,
    amount_each_fen: int | None = None,
    total_fen: int | None = None,
    shares: int | None = None,
    expires_in_hours: int | None = None,
    source: str = P.Source.MANUAL,
    source_ref: str = "",
) -> RedPacket:
    """Send a red packet from the brand's pool. A fixed packet gives ``amount_each_fen`` per share;
    a lucky one splits ``total_fen`` at random. ``shares`` defaults to one per recipient (fewer makes
    it first come, first served). ``sender`` None is the platform paying commission. Idempotent on
    ``key``: a replay returns the first packet (``replayed`` set), another request with it is refused."""
    if sender is not None:
        roles.require(brand, sender, sender.role in (Staff.Role.BRAND_ADMIN, Staff.Role.STORE_MANAGER))
    elif source != P.Source.COMMISSION:
        raise PermissionDenied(_("You are not allowed to do this."))
    if not key or len(key) > 160:
        raise _error("key", _("An idempotency key is required."), "required")
    if kind not in P.Kind.values:
        raise _error("kind", _("Choose fixed or lucky."))
    if audience not in P.Audience.values:
        raise _error("audience", _("Choose who receives it."))
    greeting = (greeting or "").strip() or _("Best wishes!")
    if len(greeting) > 60:
        raise _error("greeting", _("At most 60 characters."))
    limits = settings_get(brand=brand)
    hours = limits.default_expiry_hours if expires_in_hours is None else expires_in_hours
    if not _whole(hours) or not 1 <= hours <= 720:
        raise _error("expires_in_hours", _("Between 1 and 720 hours."))

    def write() -> RedPacket:
        people = _recipients(brand, sender, audience, staff_ids, store_id)
        n = len(people) if shares is None else shares
        if not _whole(n) or n < 1:
            raise _error("shares", _("At least one share."))
        if n > len(people):
            raise _error("shares", _("More shares than people who can claim them."))
        if n > limits.max_shares:
            raise _error("shares", _("At most %(n)s shares.") % {"n": limits.max_shares}, "limit")
        if kind == P.Kind.FIXED:
            if not _whole(amount_each_fen) or amount_each_fen < 1:
                raise _error("amount_each_fen", _("Each share is at least ¥0.01."))
            if amount_each_fen > limits.share_max_fen:
                raise _error(
                    "amount_each_fen",
                    _("Each share is at most %(max)s.") % {"max": yuan(limits.share_max_fen)},
                    "limit",
                )
            total = amount_each_fen * n
            amounts = [amount_each_fen] * n
        else:
            if not _whole(total_fen) or total_fen < n:
                raise _error("total_fen", _("The total must give every share at least ¥0.01."))
            if total_fen > n * limits.share_max_fen:
                raise _error(
                    "total_fen",
                    _("Each share is at most %(max)s: send more shares or less money.")
                    % {"max": yuan(limits.share_max_fen)},
                    "limit",
                )
            total = total_fen
            amounts = lucky_split(total, n, limits.share_max_fen)
        if total > limits.packet_max_fen:
            raise _error(
                "total_fen",
                _("A packet is at most %(max)s.") % {"max": yuan(limits.packet_max_fen)},
                "limit",
            )

        pool = ledger.account(brand, Account.Kind.POOL)
        locked = ledger.lock([pool])
        if sender is not None and source == P.Source.MANUAL:
            start = timezone.now() - datetime.timedelta(days=1)
            sent = (
                RedPacket.objects.filter(
                    sender=sender, source=P.Source.MANUAL, created_at__gte=start
                ).aggregate(s=Sum("total_fen"))["s"]
                or 0
            )
            if sent + total > limits.daily_send_max_fen:
                raise _error(
                    "total_fen",
                    _("This would pass your limit of %(max)s sent in 24 hours (%(sent)s sent so far).")
                    % {"max": yuan(limits.daily_send_max_fen), "sent": yuan(sent)},
                    "daily_limit",
                )
        if locked[pool.pk].balance_fen < total:
            raise _error(
                "total_fen",
                _("The pool does not hold enough money for this packet."),
                "insufficient_funds",
            )
        now = timezone.now()
        packet = RedPacket.objects.create(
            brand=brand,
            kind=kind,
            audience=audience,
            source=source,
            source_ref=source_ref[:64],
            sender=sender,
            store_id=store_id if audience == P.Audience.STORE else None,
            greeting=greeting,
            total_fen=total,
            shares=n,
            key=key,
            request_hash=digest(fingerprint),
            created_at=now,
            expires_at=now + datetime.timedelta(hours=hours),
        )
        holder = Account.objects.create(brand=brand, kind=Account.Kind.PACKET, packet=packet)
        PacketRecipient.objects.bulk_create(
            [PacketRecipient(brand=brand, packet=packet, staff_id=s) for s in people]
        )
        PacketShare.objects.bulk_create(
            [PacketShare(brand=brand, packet=packet, seq=i + 1, amount_fen=a) for i, a in enumerate(amounts)]
        )
        ledger.post(
            brand=brand,
            kind=Transaction.Kind.PACKET_SEND,
            key=f"send:{packet.pk}",
            legs=[(locked[pool.pk], -total), (holder, total)],
            memo=greeting,
            actor=actor,
            locked=locked,
            packet=packet,
        )
        events.packet_sent(packet=packet, actor=actor)
        return packet

    with brand_scope(brand):
        return once(lambda: replayed(RedPacket, brand, key, fingerprint), write)


def packet_claim(*, brand: Brand, staff: Staff, packet: RedPacket, key: str) -> PacketShare:
    """Claim one share of ``packet`` into ``staff``'s wallet. A second claim by the same person (or a
    replayed key) returns the first share with ``replayed`` set; no money moves twice."""
    roles.require(brand, staff, True)
    if not key or len(key) > 160:
        raise _error("key", _("An idempotency key is required."), "required")
    with brand_scope(brand):
        earlier = PacketShare.objects.for_brand(brand).filter(claim_key=key).first()
        if earlier is not None:
            return replay(earlier, same=earlier.packet_id == packet.pk and earlier.staff_id == staff.pk)
        try:
            with transaction.atomic():
                share = _claim(brand, staff, packet.pk, key)
        except IntegrityError:
            # The same person claimed this packet at the same moment (another device): one share.
            share = PacketShare.objects.filter(packet_id=packet.pk, staff=staff).first()
            if share is None:
                raise
            share.replayed = True
    return share


def _refuse_if_over(status: str, expires_at: datetime.datetime) -> None:
    if status == P.Status.EXPIRED or expires_at <= timezone.now():
        raise ValidationError(_("This red packet has expired."), code="packet_expired")
    if status == P.Status.FINISHED:
        raise ValidationError(_("Too slow: every share has been claimed."), code="packet_empty")


def _claim(brand: Brand, staff: Staff, packet_id: int, key: str) -> PacketShare:
    # Everyone else claiming this packet waits while its row is locked, so all that can be done
    # before taking the lock is done first: who may claim, an earlier claim, the wallet (locked:
    # one person's claims of several packets queue on it, not on the packets).
    recipient = PacketRecipient.objects.filter(packet_id=packet_id, staff=staff).first()
    if recipient is None:
        raise PermissionDenied(_("This red packet is not for you."))
    mine = PacketShare.objects.filter(packet_id=packet_id, staff=staff).first()
    if mine is not None:
        mine.replayed = True
        return mine
    # A packet that is already over is refused without waiting for its lock (the locked read
    # below stays the final word for packets that are still open).
    state = RedPacket.objects.filter(pk=packet_id).values("status", "expires_at", "account__id").get()
    _refuse_if_over(state["status"], state["expires_at"])
    holder_id = state["account__id"]
    wallet = ledger.wallet(brand, staff)
    locked = ledger.lock([wallet])
    PacketRecipient.objects.filter(pk=recipient.pk).update(claimed=True)

    packet = (
        RedPacket.objects.select_for_update(no_key=True, of=("self",))
        .select_related("sender")
        .get(pk=packet_id)
    )
    _refuse_if_over(packet.status, packet.expires_at)
    # Shares go in seq order under the packet's lock, so the next one is claimed_count + 1.
    share = PacketShare.objects.filter(
        packet=packet, seq=packet.claimed_count + 1, staff__isnull=True
    ).first()
    if share is None:  # cannot happen while the counters are right; refuse rather than guess
        raise ValidationError(_("Too slow: every share has been claimed."), code="packet_empty")
    now = timezone.now()
    PacketShare.objects.filter(pk=share.pk).update(staff=staff, claimed_at=now, claim_key=key)
    share.staff, share.claimed_at, share.claim_key = staff, now, key
    locked.update(ledger.lock([Account(pk=holder_id)]))
    ledger.post(
        brand=brand,
        kind=Transaction.Kind.PACKET_CLAIM,
        key=f"claim:{share.pk}",
        legs=[(locked[holder_id], -share.amount_fen), (locked[wallet.pk], share.amount_fen)],
        memo=packet.greeting,
        locked=locked,
        packet=packet,
        share=share,
    )
    packet.claimed_count += 1
    packet.claimed_fen += share.amount_fen
    fields = ["claimed_count", "claimed_fen"]
    if packet.claimed_count == packet.shares:
        packet.status, packet.finished_at = P.Status.FINISHED, now
        fields += ["status", "finished_at"]
    packet.save(update_fields=fields)
    events.packet_claimed(packet=packet, share=share)
    if locked[wallet.pk].auto_withdraw:
        enqueue_on_commit("redpackets.tasks.auto_withdraw", brand.pk, staff.pk, share.pk)
    share.packet = packet
    share.replayed = False
    return share


def packet_expire(*, brand: Brand, packet: RedPacket, now: datetime.datetime | None = None) -> int:
    """Close an expired packet and return its unclaimed money to the pool (once); returns the fen returned."""
    now = now or timezone.now()
    with brand_scope(brand):
        packet = RedPacket.objects.select_for_update(no_key=True).get(pk=packet.pk)
        if packet.status != P.Status.ACTIVE or packet.expires_at > now:
            return 0
        holder = packet.account
        pool = ledger.account(brand, Account.Kind.POOL)
        remaining = ledger.lock([holder])[holder.pk].balance_fen
        if remaining:
            ledger.post(
                brand=brand,
                kind=Transaction.Kind.PACKET_EXPIRE,
                key=f"expire:{packet.pk}",
                legs=[(holder, -remaining), (pool, remaining)],
                memo=packet.greeting,
                packet=packet,
            )
        packet.status, packet.finished_at, packet.refunded_fen = P.Status.EXPIRED, now, remaining
        packet.save(update_fields=["status", "finished_at", "refunded_fen"])
        events.packet_expired(packet=packet, refunded_fen=remaining)
        return remaining


def packets_expire(*, brand: Brand, now: datetime.datetime | None = None, batch: int = 1000) -> int:
    """Expire every open packet past its time, each in its own short transaction; returns how many."""
    now = now or timezone.now()
    with brand_scope(brand):
        ids = list(
            RedPacket.objects.filter(status=P.Status.ACTIVE, expires_at__lte=now)
            .order_by("expires_at")
            .values_list("pk", flat=True)[:batch]
        )
    done = 0
    for pk in ids:
        with brand_scope(brand):
            packet = RedPacket.objects.filter(pk=pk).first()
        if packet is not None:
            packet_expire(brand=brand, packet=packet, now=now)
            done += 1
    return done


def commission_pay(
    *, brand: Brand, items: Sequence[tuple[str, int, int, str]], greeting: str
) -> dict[str, RedPacket]:
    """Pay commission: for each (key, staff id, amount in fen, source ref) a one-share red packet
    from the pool, opened straight into the person's wallet (pool -> packet -> wallet), each key
    once. Runs inside the caller's brand-scoped transaction; raises ``insufficient_funds`` (and pays
    nothing) if the pool cannot cover them all. Returns the packets by key, earlier ones included."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("commission_pay must run inside the caller's transaction")
    keys = [k for k, *_rest in items]
    paid = {p.key: p for p in RedPacket.objects.filter(key__in=keys)}
    todo = [(k, s, a, ref) for k, s, a, ref in items if k not in paid and a > 0]
    if not todo:
        return paid
    greeting = (greeting or "").strip()[:60] or _("Commission")
    pool = ledger.account(brand, Account.Kind.POOL)
    wallets = {s: ledger.wallet(brand, s) for _k, s, _a, _r in todo}
    locked = ledger.lock([pool, *wallets.values()])
    total = sum(a for _k, _s, a, _r in todo)
    if locked[pool.pk].balance_fen < total:
        raise _error(
            "total_fen",
            _("The pool holds %(have)s; paying this commission needs %(need)s. Top the pool up first.")
            % {"have": yuan(locked[pool.pk].balance_fen), "need": yuan(total)},
            "insufficient_funds",
        )
    now = timezone.now()
    packets = RedPacket.objects.bulk_create(
        [
            RedPacket(
                brand=brand,
                kind=P.Kind.FIXED,
                audience=P.Audience.PERSON,
                source=P.Source.COMMISSION,
                source_ref=ref[:64],
                greeting=greeting,
                total_fen=amount,
                shares=1,
                claimed_count=1,
                claimed_fen=amount,
                status=P.Status.FINISHED,
                key=key,
                request_hash=digest(key),
                created_at=now,
                expires_at=now,
                finished_at=now,
            )
            for key, _s, amount, ref in todo
        ]
    )
    holders = Account.objects.bulk_create(
        [Account(brand=brand, kind=Account.Kind.PACKET, packet=p) for p in packets]
    )
    PacketRecipient.objects.bulk_create(
        [
            PacketRecipient(brand=brand, packet=p, staff_id=s, claimed=True)
            for p, (_k, s, _a, _r) in zip(packets, todo, strict=True)
        ]
    )
    shares = PacketShare.objects.bulk_create(
        [
            PacketShare(
                brand=brand, packet=p, seq=1, amount_fen=a, staff_id=s, claimed_at=now, claim_key=f"auto:{k}"
            )
            for p, (k, s, a, _r) in zip(packets, todo, strict=True)
        ]
    )
    auto = []
    for p, holder, share, (_k, s, a, _r) in zip(packets, holders, shares, todo, strict=True):
        locked[holder.pk] = holder
        w = wallets[s]
        ledger.post(
            brand=brand,
            kind=Transaction.Kind.PACKET_SEND,
            key=f"send:{p.pk}",
            legs=[(locked[pool.pk], -a), (holder, a)],
            memo=greeting,
            locked=locked,
            packet=p,
        )
        ledger.post(
            brand=brand,
            kind=Transaction.Kind.PACKET_CLAIM,
            key=f"claim:{share.pk}",
            legs=[(holder, -a), (locked[w.pk], a)],
            memo=greeting,
            locked=locked,
            packet=p,
            share=share,
        )
        events.packet_sent(packet=p, actor=None)
        events.packet_claimed(packet=p, share=share)
        if locked[w.pk].auto_withdraw:
            auto.append((s, share.pk))
        paid[p.key] = p
    for s, share_id in auto:
        enqueue_on_commit("redpackets.tasks.auto_withdraw", brand.pk, s, share_id)
    return paid
