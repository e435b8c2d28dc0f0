"""Withdrawals from a wallet to the bound payout account.

A request moves the money from the wallet to "withdrawals in progress" at once (so it cannot be
spent twice) and, after commit, hands the transfer to the provider. The provider may answer
succeeded, failed or pending, time out, or call back (more than once). Whatever it does, each
withdrawal ends exactly once: succeeded (money moves on to the payout clearing account) or failed
(money goes back to the wallet). Both endings post under one ledger key, ``end:<id>``, so the
database itself refuses a second ending. Pending withdrawals are resolved by a scheduled poll
that asks the provider, and re-sends a transfer the provider never received (transfers are
idempotent per reference at the provider).
"""

from __future__ import annotations

import datetime
import logging

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from redpackets import events, payouts
from redpackets.models import Account, PayoutAccount, Transaction, Withdrawal
from redpackets.services import ledger
from redpackets.services.limits import settings_get
from retail import roles
from retail.idempotency import digest, once, replayed
from retail.models import Brand, Staff
from retail.money import yuan
from retail.outbox import enqueue_on_commit
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)
W = Withdrawal.Status

# After this many attempts, over this long, with the provider holding no record of the transfer,
# it can no longer arrive: the withdrawal fails and the money returns to the wallet.
GIVE_UP_ATTEMPTS = 8
GIVE_UP_AFTER = datetime.timedelta(hours=1)


def _error(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def _day_start() -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=1)


def withdrawal_request(
    *,
    brand: Brand,
    staff: Staff,
    amount_fen: int | None,
    key: str,
    fingerprint: str,
    automatic: bool = False,
) -> Withdrawal:
    """Withdraw ``amount_fen`` (None: the whole balance, within today's limit) to the bound account.
    Idempotent on ``key``."""
    roles.require(brand, staff, True)
    if amount_fen is not None and (
        not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen < 1
    ):
        raise _error("amount_fen", _("Enter an amount of at least ¥0.01."))
    if not key or len(key) > 160:
        raise _error("key", _("An idempotency key is required."), "required")
    limits = settings_get(brand=brand)

    def write() -> Withdrawal:
        target = PayoutAccount.objects.filter(staff=staff, unbound_at__isnull=True).first()
        if target is None:
            raise ValidationError(_("Bind a verified payout account first."), code="no_payout_account")
        wallet = ledger.wallet(brand, staff)
        pending = ledger.account(brand, Account.Kind.PAYOUT_PENDING)
        # The wallet's lock serialises this person's withdrawals, so the limits hold.
        locked = ledger.lock([wallet, pending])
        balance = locked[wallet.pk].balance_fen
        today = (
            Withdrawal.objects.filter(staff=staff, created_at__gte=_day_start())
            .exclude(status=W.FAILED)
            .aggregate(n=Count("pk"), s=Sum("amount_fen"))
        )
        used_fen, used_n = today["s"] or 0, today["n"]
        room = limits.withdraw_daily_max_fen - used_fen
        amount = amount_fen if amount_fen is not None else min(balance, room)
        if used_n >= limits.withdraw_daily_count:
            raise _error(
                "amount_fen",
                _("You can withdraw at most %(n)s times in 24 hours.") % {"n": limits.withdraw_daily_count},
                "daily_limit",
            )
        if amount < limits.withdraw_min_fen:
            raise _error(
                "amount_fen",
                _("The smallest withdrawal is %(min)s.") % {"min": yuan(limits.withdraw_min_fen)},
                "below_minimum",
            )
        if amount > room:
            raise _error(
                "amount_fen",
                _("This passes your limit of %(max)s in 24 hours (%(left)s left).")
                % {"max": yuan(limits.withdraw_daily_max_fen), "left": yuan(max(room, 0))},
                "daily_limit",
            )
        if amount > balance:
            raise ledger.insufficient()
        w = Withdrawal.objects.create(
            brand=brand,
            staff=staff,
            payout_account=target,
            amount_fen=amount,
            automatic=automatic,
            provider=target.provider,
            reference=payouts.new_reference(),
            key=key,
            request_hash=digest(fingerprint),
        )
        ledger.post(
            brand=brand,
            kind=Transaction.Kind.WITHDRAWAL,
            key=f"withdraw:{w.pk}",
            legs=[(wallet, -amount), (pending, amount)],
            memo=target.masked,
            locked=locked,
            withdrawal=w,
        )
        enqueue_on_commit("redpackets.tasks.withdrawal_submit", brand.pk, w.pk)
        return w

    with brand_scope(brand):
        return once(lambda: replayed(Withdrawal, brand, key, fingerprint), write)


def withdrawal_submit(*, brand: Brand, withdrawal: Withdrawal) -> Withdrawal:
    """Hand a pending withdrawal to the provider (again, if need be) and apply a final answer."""
    with brand_scope(brand):
        w = Withdrawal.objects.select_related("payout_account").get(pk=withdrawal.pk)
        if w.status != W.PENDING:
            return w
        Withdrawal.objects.filter(pk=w.pk).update(attempts=F("attempts") + 1, last_attempt_at=timezone.now())
    account = w.payout_account
    try:
        result = payouts.recorded(w.provider).transfer(
            brand_id=brand.pk,
            reference=w.reference,
            account_no=account.account_no,
            real_name=account.real_name,
            amount_fen=w.amount_fen,
        )
    except payouts.PayoutTimeout:
        logger.warning("payout %s timed out; the poll will ask the provider", w.reference)
        return w
    if result.status in (payouts.SUCCEEDED, payouts.FAILED):
        return withdrawal_apply(brand=brand, result=result, provider_name=w.provider)
    return w


def withdrawal_apply(*, brand: Brand, result: payouts.PayoutResult, provider_name: str) -> Withdrawal:
    """End a pending withdrawal by the provider's final word; any later word changes nothing."""
    if result.status not in (payouts.SUCCEEDED, payouts.FAILED):
        raise ValueError(result.status)
    with brand_scope(brand):
        w = (
            Withdrawal.objects.select_for_update(no_key=True)
            .filter(provider=provider_name, reference=result.reference)
            .first()
        )
        if w is None:
            raise ValidationError(_("Unknown withdrawal."), code="unknown_reference")
        if w.status != W.PENDING:
            return w
        if result.amount_fen != w.amount_fen:
            raise ValidationError(
                _("The provider's amount does not match the withdrawal."), code="amount_mismatch"
            )
        pending = ledger.account(brand, Account.Kind.PAYOUT_PENDING)
        if result.status == payouts.SUCCEEDED:
            kind = Transaction.Kind.WITHDRAWAL_SUCCEEDED
            legs = [(pending, -w.amount_fen), (ledger.account(brand, Account.Kind.PAID_OUT), w.amount_fen)]
            w.status = W.SUCCEEDED
        else:
            kind = Transaction.Kind.WITHDRAWAL_REFUNDED
            legs = [(pending, -w.amount_fen), (ledger.wallet(brand, w.staff_id), w.amount_fen)]
            w.status, w.failure_reason = W.FAILED, (result.reason or "failed")[:200]
        ledger.post(brand=brand, kind=kind, key=f"end:{w.pk}", legs=legs, memo=w.reference, withdrawal=w)
        w.ended_now = True
        w.completed_at = timezone.now()
        w.provider_reference = result.provider_reference[:64]
        w.save(update_fields=["status", "failure_reason", "completed_at", "provider_reference"])
        events.withdrawal_finished(withdrawal=w)
        return w


def withdrawal_notice(*, brand: Brand, provider_name: str, body: bytes, signature: str) -> Withdrawal:
    """A provider's signed callback (any number of times; applied once)."""
    result = payouts.provider(provider_name).parse_notice(body, signature)
    if result.brand_id != brand.pk:
        raise payouts.SignatureError("notice for another brand")
    return withdrawal_apply(brand=brand, result=result, provider_name=provider_name)


def withdrawals_poll(*, brand: Brand, older_than_seconds: int = 30, batch: int = 500) -> int:
    """Resolve withdrawals still pending: ask the provider, re-send what it never received, and give
    up (refunding the wallet) on a transfer the provider never got after many tries. Returns how
    many ended."""
    now = timezone.now()
    cutoff = now - datetime.timedelta(seconds=older_than_seconds)
    with brand_scope(brand):
        waiting = list(
            Withdrawal.objects.filter(status=W.PENDING, created_at__lte=cutoff)
            .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lte=cutoff))
            .order_by("last_attempt_at")[:batch]
        )
    ended = 0
    for w in waiting:
        provider = payouts.recorded(w.provider)
        try:
            record = provider.query(reference=w.reference)
        except payouts.PayoutTimeout:
            continue
        if record is not None and record.brand_id == brand.pk and record.status != payouts.PENDING:
            w = withdrawal_apply(brand=brand, result=record, provider_name=w.provider)
        elif record is None:
            if w.attempts >= GIVE_UP_ATTEMPTS and w.created_at <= now - GIVE_UP_AFTER:
                w = withdrawal_apply(
                    brand=brand,
                    result=payouts.PayoutResult(
                        brand.pk,
                        w.reference,
                        payouts.FAILED,
                        w.amount_fen,
                        reason="provider never received it",
                    ),
                    provider_name=w.provider,
                )
            else:
                w = withdrawal_submit(brand=brand, withdrawal=w)
        ended += getattr(w, "ended_now", False)
    return ended


def auto_withdraw(*, brand: Brand, staff: Staff, trigger: str) -> Withdrawal | None:
    """Withdraw everything in the wallet (within today's limits) if the person switched automatic
    withdrawal on; quietly does nothing when it cannot."""
    with brand_scope(brand):
        wallet = ledger.wallet(brand, staff)
        if not wallet.auto_withdraw or wallet.balance_fen <= 0:
            return None
    try:
        return withdrawal_request(
            brand=brand,
            staff=staff,
            amount_fen=None,
            key=f"auto:{trigger}",
            fingerprint=f"auto:{trigger}",
            automatic=True,
        )
    except ValidationError as exc:
        logger.info("automatic withdrawal for staff %s skipped: %s", staff.pk, exc.messages)
        return None
