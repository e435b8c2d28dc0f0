"""Reconciliation: prove the ledger adds up and agrees with the payout provider.

Checks, per brand: every transaction has at least two entries summing to zero; every account's
cached balance equals the sum of its entries; all balances together sum to zero; each packet's
account holds exactly its unclaimed, unreturned money; withdrawals in progress hold exactly the
pending withdrawals; credited top-ups equal what came in from the payment provider; and each
recent withdrawal's ending agrees with the provider's record. Any mismatch is written to the run,
reported to the brand's admins (brand finance) and logged as an error for the platform operator.
"""

from __future__ import annotations

import datetime
import logging

from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from redpackets import payouts
from redpackets.models import Account, Entry, Reconciliation, RedPacket, TopUp, Transaction, Withdrawal
from retail import notify
from retail.events import record
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)
W = Withdrawal.Status


def _sum(qs, field: str) -> int:
    return qs.aggregate(s=Coalesce(Sum(field), Value(0)))["s"]


def _ledger_problems(brand: Brand) -> tuple[list[dict], dict]:
    problems: list[dict] = []
    unbalanced = (
        Entry.objects.values("transaction_id")
        .annotate(total=Sum("amount_fen"), legs=Count("pk"))
        .filter(~Q(total=0) | Q(legs__lt=2))
    )
    for row in unbalanced[:100]:
        problems.append({"check": "transaction_balances", **row})
    bare = Transaction.objects.annotate(legs=Count("entries")).filter(legs=0).values_list("pk", flat=True)
    for pk in bare[:100]:
        problems.append({"check": "transaction_has_entries", "transaction_id": pk})
    drift = (
        Account.objects.annotate(entries_fen=Coalesce(Sum("entries__amount_fen"), Value(0)))
        .filter(~Q(balance_fen=F("entries_fen")))
        .values("pk", "kind", "balance_fen", "entries_fen")
    )
    for row in drift[:100]:
        problems.append({"check": "balance_equals_entries", **row})
    total = _sum(Account.objects.all(), "balance_fen")
    if total != 0:
        problems.append({"check": "balances_sum_to_zero", "total_fen": total})
    packets = (
        Account.objects.filter(kind=Account.Kind.PACKET)
        .annotate(expected=F("packet__total_fen") - F("packet__claimed_fen") - F("packet__refunded_fen"))
        .filter(~Q(balance_fen=F("expected")))
        .values("packet_id", "balance_fen", "expected")
    )
    for row in packets[:100]:
        problems.append({"check": "packet_account", **row})
    pending_fen = _sum(Withdrawal.objects.filter(status=W.PENDING), "amount_fen")
    in_progress = _sum(Account.objects.filter(kind=Account.Kind.PAYOUT_PENDING), "balance_fen")
    if pending_fen != in_progress:
        problems.append(
            {"check": "withdrawals_in_progress", "pending_fen": pending_fen, "account_fen": in_progress}
        )
    credited = _sum(TopUp.objects.filter(status=TopUp.Status.SUCCEEDED), "amount_fen")
    funded = -_sum(Account.objects.filter(kind=Account.Kind.FUNDING), "balance_fen")
    if credited != funded:
        problems.append({"check": "topups_credited", "topups_fen": credited, "funding_fen": funded})
    paid = _sum(Withdrawal.objects.filter(status=W.SUCCEEDED), "amount_fen")
    paid_out = _sum(Account.objects.filter(kind=Account.Kind.PAID_OUT), "balance_fen")
    if paid != paid_out:
        problems.append({"check": "withdrawals_paid", "withdrawals_fen": paid, "paid_out_fen": paid_out})
    checked = {
        "transactions": Transaction.objects.count(),
        "accounts": Account.objects.count(),
        "packets_open": RedPacket.objects.filter(status=RedPacket.Status.ACTIVE).count(),
    }
    return problems, checked


def _recent_withdrawals(since: datetime.datetime, limit: int) -> list[dict]:
    return list(
        Withdrawal.objects.filter(created_at__gte=since)
        .order_by("-created_at")
        .values("pk", "provider", "reference", "status", "amount_fen", "created_at")[:limit]
    )


def _provider_problems(rows: list[dict]) -> tuple[list[dict], int]:
    """What the payout provider says of ``rows``: asked with no transaction open."""
    problems: list[dict] = []
    stale_before = timezone.now() - datetime.timedelta(hours=1)
    for w in rows:
        try:
            theirs = payouts.recorded(w["provider"]).query(reference=w["reference"])
        except payouts.PayoutTimeout:
            problems.append({"check": "provider_unreachable", "withdrawal_id": w["pk"]})
            continue
        their_status = theirs.status if theirs is not None else None
        if theirs is not None and theirs.amount_fen != w["amount_fen"]:
            problems.append(
                {
                    "check": "provider_amount",
                    "withdrawal_id": w["pk"],
                    "ours": w["amount_fen"],
                    "theirs": theirs.amount_fen,
                }
            )
        disagree = (w["status"] == W.SUCCEEDED and their_status != payouts.SUCCEEDED) or (
            w["status"] == W.FAILED and their_status == payouts.SUCCEEDED
        )
        if disagree:
            problems.append(
                {
                    "check": "provider_status",
                    "withdrawal_id": w["pk"],
                    "ours": w["status"],
                    "theirs": their_status,
                }
            )
        elif (
            w["status"] == W.PENDING
            and their_status in (payouts.SUCCEEDED, payouts.FAILED)
            and w["created_at"] < stale_before
        ):
            problems.append(
                {"check": "withdrawal_unresolved", "withdrawal_id": w["pk"], "theirs": their_status}
            )
    return problems, len(rows)


def reconcile(*, brand: Brand, days: int = 7, provider_limit: int = 20_000) -> Reconciliation:
    """Run every check for ``brand``; returns the stored run (``ok`` False when anything is off)."""
    started = timezone.now()
    with brand_scope(brand):
        problems, checked = _ledger_problems(brand)
        rows = _recent_withdrawals(started - datetime.timedelta(days=days), provider_limit)
    provider_problems, n = _provider_problems(rows)
    problems += provider_problems
    checked["withdrawals_checked_with_provider"] = n
    with brand_scope(brand):
        run = Reconciliation.objects.create(
            brand=brand,
            started_at=started,
            finished_at=timezone.now(),
            ok=not problems,
            checked=checked,
            problems=problems,
        )
        if problems:
            _report(brand, run)
    return run


def _report(brand: Brand, run: Reconciliation) -> None:
    logger.error(
        "ledger reconciliation of brand %s found %d problem(s): %s",
        brand.slug,
        len(run.problems),
        run.problems[:5],
    )
    record(
        brand=brand,
        actor=None,
        action="ledger.mismatch",
        target=run,
        data={"problems": len(run.problems)},
    )
    admins = Staff.objects.filter(role=Staff.Role.BRAND_ADMIN, status=Staff.Status.ACTIVE).select_related(
        "user"
    )
    phones = [a.user.phone for a in admins if a.user.phone]
    text = _("[%(brand)s] The red packet ledger check found %(n)s problem(s); see the dashboard.") % {
        "brand": brand.name,
        "n": len(run.problems),
    }

    def send() -> None:
        # Brand finance (the brand's admins) by message; the platform operator by mail (ADMINS).
        sender = notify.get_sender()
        for phone in phones:
            sender.send(phone=phone, text=text)
        mail_admins(
            f"Ledger mismatch: {brand.slug}",
            f"{text}\n\nRun #{run.pk}: {run.problems[:20]}",
            fail_silently=True,
        )

    transaction.on_commit(send)
