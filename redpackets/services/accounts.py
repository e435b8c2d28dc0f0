"""Payout accounts (bind, rebind, unbind, real-name verified) and the automatic-withdrawal switch."""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from redpackets import events, payouts
from redpackets.models import Account, PayoutAccount, Withdrawal
from redpackets.services import ledger
from retail import roles
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope


def _name_key(name: str) -> str:
    """A person's name as compared: NFKC, no spaces or middle dots, case-folded."""
    return re.sub(r"[\s·•．.]", "", unicodedata.normalize("NFKC", name or "")).casefold()


def payout_account_get(*, brand: Brand, staff: Staff) -> PayoutAccount | None:
    with brand_scope(brand):
        return PayoutAccount.objects.filter(staff=staff, unbound_at__isnull=True).first()


def payout_account_bind(
    *, brand: Brand, staff: Staff, actor: Actor, account_no: str, real_name: str
) -> PayoutAccount:
    """Bind (or rebind) the staff member's own payout account. The real name must be the name on
    the staff record, and the provider must confirm that the account exists and is in that name."""
    roles.require(brand, staff, True)
    account_no = (account_no or "").strip()
    real_name = (real_name or "").strip()
    if not payouts.ACCOUNT_RE.match(account_no):
        raise ValidationError(
            {"account_no": ValidationError(_("Enter a mobile number or an email address."), code="invalid")}
        )
    if not real_name or len(real_name) > 64:
        raise ValidationError({"real_name": _("Enter your real name.")})
    # A refused attempt is audited in its own transaction before the error is raised: callers
    # must not wrap this in a transaction of theirs, or the rollback takes the audit entry too.
    if _name_key(real_name) != _name_key(staff.name):
        with brand_scope(brand):
            events.payout_account_refused(
                brand=brand, actor=actor, staff=staff, account_no=account_no, reason="not_staff_name"
            )
        raise ValidationError(
            {
                "real_name": ValidationError(
                    _("The real name must be the name on your staff record (%(name)s).")
                    % {"name": staff.name},
                    code="name_mismatch",
                )
            }
        )
    provider = payouts.provider()
    verdict = provider.verify(account_no=account_no, real_name=staff.name)
    if not verdict.ok:
        with brand_scope(brand):
            events.payout_account_refused(
                brand=brand, actor=actor, staff=staff, account_no=account_no, reason=verdict.reason
            )
        message = (
            _("The provider has no such account.")
            if verdict.reason == "no_such_account"
            else _("The provider says this account is not in your name.")
        )
        raise ValidationError({"account_no": ValidationError(message, code="verification_failed")})
    now = timezone.now()
    with brand_scope(brand), transaction.atomic():
        wallet = ledger.wallet(brand, staff)
        ledger.lock([wallet])  # one bind at a time per person
        current = (
            PayoutAccount.objects.select_for_update().filter(staff=staff, unbound_at__isnull=True).first()
        )
        if current is not None and current.account_no == account_no and current.provider == provider.name:
            return current
        if current is not None:
            current.unbound_at = now
            current.save(update_fields=["unbound_at"])
        try:
            with transaction.atomic():
                bound = PayoutAccount.objects.create(
                    brand=brand,
                    staff=staff,
                    provider=provider.name,
                    account_no=account_no,
                    real_name=staff.name,
                    verified_at=now,
                    bound_at=now,
                )
        except IntegrityError as exc:
            raise ValidationError(_("Try again."), code="conflict") from exc
        if current is not None and wallet.auto_withdraw:
            # A new account is confirmed by hand again before money flows to it automatically.
            Account.objects.filter(pk=wallet.pk).update(auto_withdraw=False)
            events.auto_withdraw_changed(brand=brand, actor=actor, staff=staff, on=False)
        events.payout_account_bound(brand=brand, actor=actor, account=bound, replaced=current)
        return bound


def payout_account_unbind(*, brand: Brand, staff: Staff, actor: Actor) -> PayoutAccount | None:
    """Unbind the current payout account (withdrawals in progress still finish to it)."""
    roles.require(brand, staff, True)
    with brand_scope(brand), transaction.atomic():
        wallet = ledger.wallet(brand, staff)
        ledger.lock([wallet])
        current = (
            PayoutAccount.objects.select_for_update().filter(staff=staff, unbound_at__isnull=True).first()
        )
        if current is None:
            return None
        current.unbound_at = timezone.now()
        current.save(update_fields=["unbound_at"])
        if wallet.auto_withdraw:
            Account.objects.filter(pk=wallet.pk).update(auto_withdraw=False)
            events.auto_withdraw_changed(brand=brand, actor=actor, staff=staff, on=False)
        events.payout_account_unbound(brand=brand, actor=actor, account=current)
        return current


def can_auto_withdraw(*, brand: Brand, staff: Staff) -> bool:
    """Automatic withdrawal opens once a withdrawal made by hand reached the current account."""
    with brand_scope(brand):
        current = PayoutAccount.objects.filter(staff=staff, unbound_at__isnull=True).first()
        return (
            current is not None
            and Withdrawal.objects.filter(
                payout_account=current, automatic=False, status=Withdrawal.Status.SUCCEEDED
            ).exists()
        )


def auto_withdraw_set(*, brand: Brand, staff: Staff, actor: Actor, on: bool) -> Account:
    """Switch automatic withdrawal on or off for the staff member's own wallet."""
    roles.require(brand, staff, True)
    if on and not can_auto_withdraw(brand=brand, staff=staff):
        raise ValidationError(
            _(
                "Make your first withdrawal to this account by hand; "
                "then you can switch on automatic withdrawal."
            ),
            code="first_withdrawal_by_hand",
        )
    with brand_scope(brand), transaction.atomic():
        wallet = ledger.lock([ledger.wallet(brand, staff)]).popitem()[1]
        if wallet.auto_withdraw != on:
            Account.objects.filter(pk=wallet.pk).update(auto_withdraw=on)
            wallet.auto_withdraw = on
            events.auto_withdraw_changed(brand=brand, actor=actor, staff=staff, on=on)
        return wallet
