"""Reads of red packets, wallets and the pool (every one takes ``brand=``)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from redpackets.models import (
    Account,
    Entry,
    PacketRecipient,
    PacketShare,
    PayoutAccount,
    Reconciliation,
    RedPacket,
    TopUp,
    Transaction,
    Withdrawal,
)
from retail import roles
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope, get_for_brand_or_404, within_brand

K = Account.Kind
T = Transaction.Kind


@dataclass
class Record:
    """One movement of an account, with where the money came from or went (来往记录)."""

    id: int
    at: datetime.datetime
    amount_fen: int
    balance_after_fen: int
    kind: str
    kind_label: str
    title: str
    detail: str
    packet_id: int | None
    withdrawal_id: int | None
    topup_id: int | None
    transaction_id: int
    statement_id: int | None = None  # a commission packet: the statement it paid


def _statement_id(packet: RedPacket | None) -> int | None:
    """The commission statement a packet paid (its ``source_ref`` is ``statement:<id>``)."""
    if packet is None or packet.source != RedPacket.Source.COMMISSION:
        return None
    kind, _sep, ref = packet.source_ref.partition(":")
    return int(ref) if kind == "statement" and ref.isascii() and ref.isdigit() else None


def _sum(qs, field: str) -> int:
    return qs.aggregate(s=Coalesce(Sum(field), Value(0)))["s"]


def pool_overview(*, brand: Brand) -> dict:
    """The pool's balance and where the rest of the brand's money is."""
    with brand_scope(brand):
        by_kind = dict(Account.objects.values("kind").annotate(s=Sum("balance_fen")).values_list("kind", "s"))
        return {
            "pool_fen": by_kind.get(K.POOL, 0),
            "in_packets_fen": by_kind.get(K.PACKET, 0),
            "in_wallets_fen": by_kind.get(K.WALLET, 0),
            "withdrawing_fen": by_kind.get(K.PAYOUT_PENDING, 0),
            "paid_out_fen": by_kind.get(K.PAID_OUT, 0),
            "topped_up_fen": -by_kind.get(K.FUNDING, 0),
            "pending_topups": TopUp.objects.filter(status=TopUp.Status.PENDING).count(),
        }


def pool_balance(*, brand: Brand) -> int:
    with brand_scope(brand):
        return Account.objects.filter(kind=K.POOL).values_list("balance_fen", flat=True).first() or 0


def _describe(entry: Entry, recipients: dict[int, str]) -> tuple[str, str]:
    """(title, detail) of an entry from its account holder's point of view."""
    txn = entry.transaction
    packet, w, topup = txn.packet, txn.withdrawal, txn.topup
    kind = txn.kind
    if kind == T.TOPUP and topup is not None:
        return _("Top-up"), _("From the payment provider, reference %(ref)s") % {"ref": topup.reference}
    if kind == T.PACKET_SEND and packet is not None:
        if packet.audience == RedPacket.Audience.STORE and packet.store is not None:
            to = packet.store.name
        elif packet.audience == RedPacket.Audience.PERSON:
            to = recipients.get(packet.pk, "")
        else:
            to = _("%(n)s people") % {"n": recipients.get(packet.pk, "?")}
        sender = packet.sender.name if packet.sender else _("Commission")
        return _("Red packet to %(to)s") % {"to": to}, _("Sent by %(who)s: %(greeting)s") % {
            "who": sender,
            "greeting": packet.greeting,
        }
    if kind == T.PACKET_CLAIM and packet is not None:
        if entry.amount_fen > 0:
            sender = packet.sender.name if packet.sender else _("Commission")
            return _("Red packet from %(who)s") % {"who": sender}, packet.greeting
        return _("Claimed"), packet.greeting
    if kind == T.PACKET_EXPIRE and packet is not None:
        return _("Unclaimed money returned"), _("Packet “%(greeting)s” expired") % {
            "greeting": packet.greeting
        }
    if kind == T.WITHDRAWAL and w is not None:
        return _("Withdrawal"), _("To %(account)s") % {"account": w.payout_account.masked}
    if kind == T.WITHDRAWAL_REFUNDED and w is not None:
        return _("Withdrawal failed, money returned"), w.failure_reason
    if kind == T.WITHDRAWAL_SUCCEEDED and w is not None:
        return _("Withdrawal paid"), _("To %(account)s") % {"account": w.payout_account.masked}
    if kind == T.CORRECTION:
        return _("Correction"), txn.memo
    return txn.get_kind_display(), txn.memo


def account_records(
    *, brand: Brand, account: Account | None, limit: int = 50, before_id: int | None = None
) -> list[Record]:
    """The account's movements, newest first (keyset pages: pass the last id as ``before_id``)."""
    if account is None:
        return []
    with brand_scope(brand):
        qs = (
            Entry.objects.filter(account=account)
            .select_related(
                "transaction",
                "transaction__packet",
                "transaction__packet__sender",
                "transaction__packet__store",
                "transaction__withdrawal",
                "transaction__withdrawal__payout_account",
                "transaction__topup",
            )
            .order_by("-id")
        )
        if before_id:
            qs = qs.filter(id__lt=before_id)
        entries = list(qs[:limit])
        packet_ids = {
            e.transaction.packet_id
            for e in entries
            if e.transaction.kind == T.PACKET_SEND and e.transaction.packet_id is not None
        }
        recipients: dict[int, str] = {}
        if packet_ids:
            rows = PacketRecipient.objects.filter(packet_id__in=packet_ids).values_list(
                "packet_id", "staff__name"
            )
            counts: dict[int, list[str]] = {}
            for pid, name in rows:
                counts.setdefault(pid, []).append(name)
            recipients = {
                pid: (names[0] if len(names) == 1 else str(len(names))) for pid, names in counts.items()
            }
    out = []
    for e in entries:
        title, detail = _describe(e, recipients)
        out.append(
            Record(
                id=e.pk,
                at=e.created_at,
                amount_fen=e.amount_fen,
                balance_after_fen=e.balance_after_fen,
                kind=e.transaction.kind,
                kind_label=e.transaction.get_kind_display(),
                title=title,
                detail=detail,
                packet_id=e.transaction.packet_id,
                withdrawal_id=e.transaction.withdrawal_id,
                topup_id=e.transaction.topup_id,
                transaction_id=e.transaction_id,
                statement_id=_statement_id(e.transaction.packet),
            )
        )
    return out


def account_records_all(*, brand: Brand, account: Account | None, chunk: int = 2000) -> Iterator[Record]:
    """Every movement of the account, newest first, fetched in chunks (for CSV exports)."""
    before = None
    while True:
        page = account_records(brand=brand, account=account, limit=chunk, before_id=before)
        yield from page
        if len(page) < chunk:
            return
        before = page[-1].id


def pool_account(*, brand: Brand) -> Account | None:
    with brand_scope(brand):
        return Account.objects.filter(kind=K.POOL).first()


def wallet_account(*, brand: Brand, staff: Staff) -> Account | None:
    with brand_scope(brand):
        return Account.objects.filter(kind=K.WALLET, staff=staff).first()


def wallet_overview(*, brand: Brand, staff: Staff) -> dict:
    """What the wallet page shows: balance, packets to open, account, withdrawals in progress."""
    from redpackets.services.accounts import can_auto_withdraw

    with brand_scope(brand):
        wallet = Account.objects.filter(kind=K.WALLET, staff=staff).first()
        bound = PayoutAccount.objects.filter(staff=staff, unbound_at__isnull=True).first()
        pending = list(
            Withdrawal.objects.filter(staff=staff, status=Withdrawal.Status.PENDING).order_by("-created_at")
        )
        received = _sum(PacketShare.objects.filter(staff=staff), "amount_fen")
        return {
            "wallet": wallet,
            "balance_fen": wallet.balance_fen if wallet else 0,
            "auto_withdraw": bool(wallet and wallet.auto_withdraw),
            "can_auto_withdraw": can_auto_withdraw(brand=brand, staff=staff),
            "payout_account": bound,
            "to_open": packets_to_open(brand=brand, staff=staff),
            "pending_withdrawals": pending,
            "received_fen": received,
        }


def packets_to_open(*, brand: Brand, staff: Staff) -> list[RedPacket]:
    """Open packets this person may still claim, newest first."""
    with brand_scope(brand):
        return list(
            RedPacket.objects.filter(
                status=RedPacket.Status.ACTIVE,
                expires_at__gt=timezone.now(),
                recipients__staff=staff,
                recipients__claimed=False,
            )
            .select_related("sender")
            .order_by("-created_at")[:50]
        )


def packets_received(*, brand: Brand, staff: Staff, limit: int = 50) -> list[PacketShare]:
    """The shares this person claimed, newest first."""
    with brand_scope(brand):
        return list(
            PacketShare.objects.filter(staff=staff)
            .select_related("packet", "packet__sender")
            .order_by("-claimed_at")[:limit]
        )


def packet_visible_to(staff: Staff, packet: RedPacket) -> bool:
    """Senders, brand admins, the store's managers and the packet's recipients see a packet."""
    if staff.is_brand_admin or packet.sender_id == staff.pk:
        return True
    if packet.store_id and roles.can_manage_store(staff, packet.store_id):
        return True
    return PacketRecipient.objects.filter(packet=packet, staff=staff).exists()


def packet_get(*, brand: Brand, staff: Staff, packet_id: int) -> RedPacket:
    """A packet this staff member may see, or 404 (``Http404``)."""
    from django.http import Http404

    with brand_scope(brand):
        packet = get_for_brand_or_404(
            RedPacket.objects.select_related("sender", "store"), brand, pk=packet_id
        )
        if not packet_visible_to(staff, packet):
            raise Http404
        return packet


def packet_claims(*, brand: Brand, packet: RedPacket) -> list[dict]:
    """Who claimed how much, in claiming order; the luckiest share is marked once all are claimed."""
    with brand_scope(brand):
        shares = list(
            PacketShare.objects.filter(packet=packet, staff__isnull=False)
            .select_related("staff")
            .order_by("claimed_at", "seq")
        )
    best = None
    if packet.kind == RedPacket.Kind.LUCKY and packet.status == RedPacket.Status.FINISHED and shares:
        best = max(shares, key=lambda s: (s.amount_fen, -s.seq)).pk
    return [
        {
            "staff_id": s.staff_id,
            "name": s.staff.name,
            "amount_fen": s.amount_fen,
            "claimed_at": s.claimed_at,
            "best": s.pk == best,
        }
        for s in shares
    ]


def packet_list(*, brand: Brand, staff: Staff, limit: int = 50, offset: int = 0) -> list[RedPacket]:
    """Packets a manager sent (brand admins see every packet of the brand), newest first."""
    with brand_scope(brand):
        qs = RedPacket.objects.select_related("sender", "store").order_by("-created_at", "-id")
        if not staff.is_brand_admin:
            qs = qs.filter(
                Q(sender=staff) | Q(store_id__in=roles.store_ids(staff))
                if staff.is_store_manager
                else Q(sender=staff)
            )
        return list(qs[offset : offset + limit])


def withdrawal_list(*, brand: Brand, staff: Staff, limit: int = 50) -> list[Withdrawal]:
    with brand_scope(brand):
        return list(
            Withdrawal.objects.filter(staff=staff)
            .select_related("payout_account")
            .order_by("-created_at")[:limit]
        )


def withdrawal_get(*, brand: Brand, staff: Staff, withdrawal_id: int) -> Withdrawal:
    """One of the staff member's own withdrawals (brand admins: anyone's), or 404."""
    with brand_scope(brand):
        qs = Withdrawal.objects.select_related("payout_account", "staff")
        if not staff.is_brand_admin:
            qs = qs.filter(staff=staff)
        return get_for_brand_or_404(qs, brand, pk=withdrawal_id)


def topup_list(*, brand: Brand, limit: int = 50) -> list[TopUp]:
    with brand_scope(brand):
        return list(TopUp.objects.select_related("created_by").order_by("-created_at")[:limit])


def reconciliation_latest(*, brand: Brand) -> Reconciliation | None:
    with brand_scope(brand):
        return Reconciliation.objects.order_by("-started_at", "-id").first()


def sent_today_fen(*, brand: Brand, staff: Staff) -> int:
    with brand_scope(brand):
        since = timezone.now() - datetime.timedelta(days=1)
        return _sum(
            RedPacket.objects.filter(sender=staff, source=RedPacket.Source.MANUAL, created_at__gte=since),
            "total_fen",
        )


# --- mobile pages ---


def staff_timezone(*, brand: Brand, staff: Staff) -> str | None:
    """The time zone of the first store the staff member works at (None: works at none)."""
    ids = roles.store_ids(staff)
    if not ids:
        return None
    with brand_scope(brand):
        return Store.objects.filter(pk__in=ids).order_by("pk").values_list("timezone", flat=True).first()


def wallet_badge(*, brand: Brand, staff: Staff) -> dict:
    """The wallet's balance and how many packets wait to be opened, in one query (home/me entries)."""
    now = timezone.now()
    with within_brand(brand):
        balance = Account.objects.filter(kind=K.WALLET, staff=OuterRef("pk")).values("balance_fen")[:1]
        waiting = (
            PacketRecipient.objects.filter(
                staff=OuterRef("pk"),
                claimed=False,
                packet__status=RedPacket.Status.ACTIVE,
                packet__expires_at__gt=now,
            )
            .values("staff")
            .annotate(n=Count("pk"))
            .values("n")[:1]
        )
        row = (
            Staff.objects.filter(pk=staff.pk)
            .annotate(balance_fen=Subquery(balance), to_open=Subquery(waiting))
            .values("balance_fen", "to_open")
            .first()
        ) or {}
    return {"balance_fen": row.get("balance_fen") or 0, "to_open": row.get("to_open") or 0}


def packet_recipient(*, brand: Brand, packet: RedPacket, staff: Staff) -> PacketRecipient | None:
    """The staff member's place among the packet's recipients, if any."""
    with brand_scope(brand):
        return PacketRecipient.objects.filter(packet=packet, staff=staff).first()


def withdrawn_today(*, brand: Brand, staff: Staff) -> dict:
    """What counts against today's withdrawal limits (last 24 hours, failed ones excluded)."""
    since = timezone.now() - datetime.timedelta(days=1)
    with brand_scope(brand):
        row = (
            Withdrawal.objects.filter(staff=staff, created_at__gte=since)
            .exclude(status=Withdrawal.Status.FAILED)
            .aggregate(n=Count("pk"), s=Coalesce(Sum("amount_fen"), Value(0)))
        )
    return {"fen": row["s"], "count": row["n"]}


def send_stores(*, brand: Brand, staff: Staff) -> list:
    """Stores a manager may send a store packet to (brand admins: every open store)."""
    with brand_scope(brand):
        qs = Store.objects.exclude(status=Store.Status.CLOSED).order_by("code", "id")
        if not staff.is_brand_admin:
            qs = qs.filter(pk__in=roles.store_ids(staff)) if staff.is_store_manager else qs.none()
        return list(qs.only("id", "name", "code")[:500])


def send_candidates(*, brand: Brand, staff: Staff, limit: int = 500) -> list[Staff]:
    """Active staff a manager may send a packet to: the people of the stores they manage (brand
    admins: everyone), without the sender."""
    with brand_scope(brand):
        qs = Staff.objects.filter(status=Staff.Status.ACTIVE).exclude(pk=staff.pk).order_by("name", "id")
        if not staff.is_brand_admin:
            if not staff.is_store_manager:
                return []
            qs = qs.filter(stores__in=roles.store_ids(staff)).distinct()
        return list(qs.only("id", "name", "role", "employee_no")[:limit])


def packet_recipients(*, brand: Brand, packet: RedPacket) -> list[dict]:
    """Who may claim the packet, by name, and whether each has claimed."""
    with brand_scope(brand):
        rows = (
            PacketRecipient.objects.filter(packet=packet)
            .order_by("claimed", "staff__name", "staff_id")
            .values_list("staff_id", "staff__name", "claimed")
        )
        return [{"staff_id": sid, "name": name, "claimed": claimed} for sid, name, claimed in rows]


# --- dashboard pages ---


def staff_wallet_list(*, brand: Brand, q: str = "", order: str = "balance") -> QuerySet[Staff]:
    """Staff with their wallets (balance, withdrawals in progress, bound payout account), for brand
    finance: active staff and anyone whose wallet ever existed, in two queries per page (rows +
    their stores). Lazy: paginate it."""
    wallets = Account.objects.for_brand(brand).filter(kind=K.WALLET, staff=OuterRef("pk"))
    pending = (
        Withdrawal.objects.for_brand(brand)
        .filter(staff=OuterRef("pk"), status=Withdrawal.Status.PENDING)
        .values("staff")
        .annotate(s=Sum("amount_fen"))
        .values("s")[:1]
    )
    bound = PayoutAccount.objects.for_brand(brand).filter(staff=OuterRef("pk"), unbound_at__isnull=True)
    qs = (
        Staff.objects.for_brand(brand)
        .annotate(
            has_wallet=Exists(wallets),
            balance_fen=Coalesce(Subquery(wallets.values("balance_fen")[:1]), Value(0)),
            withdrawing_fen=Coalesce(Subquery(pending), Value(0)),
            has_payout_account=Exists(bound),
        )
        .filter(Q(status=Staff.Status.ACTIVE) | Q(has_wallet=True))
    )
    q = q.strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(employee_no__icontains=q))
    ordering = ("name", "id") if order == "name" else ("-balance_fen", "name", "id")
    return qs.prefetch_related(
        Prefetch("stores", queryset=Store.objects.for_brand(brand).only("id", "code", "name"))
    ).order_by(*ordering)


def packet_table(*, brand: Brand, staff: Staff, status: str = "") -> QuerySet[RedPacket]:
    """The packets ``packet_list`` shows (brand admins: all; store managers: their own and their
    stores'; others: their own), optionally of one status, with each packet's number of recipients
    and (for one-person packets) the recipient's name, in one query. Lazy: paginate it."""
    qs = RedPacket.objects.for_brand(brand).select_related("sender", "store")
    if not staff.is_brand_admin:
        mine = Q(sender=staff)
        if staff.is_store_manager:
            mine |= Q(store_id__in=roles.store_ids(staff))
        qs = qs.filter(mine)
    if status:
        qs = qs.filter(status=status)
    recipients = PacketRecipient.objects.for_brand(brand).filter(packet=OuterRef("pk"))
    return qs.annotate(
        recipient_count=Subquery(recipients.values("packet").annotate(n=Count("pk")).values("n")[:1]),
        recipient_name=Subquery(recipients.order_by("staff__name").values("staff__name")[:1]),
    ).order_by("-created_at", "-id")
