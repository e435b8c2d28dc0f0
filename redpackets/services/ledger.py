"""The double-entry ledger: accounts, balanced transactions, corrections.

Every money movement in the platform goes through ``post``. It must run inside the caller's
brand-scoped transaction; it locks the accounts it touches (in id order, so two postings never
wait on each other in a cycle), checks that the legs sum to zero and that no balance that may
not go negative would, and writes one transaction with its entries. The database repeats the
checks: accounts have ``balance >= 0`` constraints, entries are append-only, and on PostgreSQL a
deferred trigger refuses to commit a transaction whose entries do not sum to zero.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from redpackets.models import Account, Entry, Transaction
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

K = Account.Kind


class Unbalanced(ValueError):
    """A posting whose legs do not sum to zero (a programming error, never user input)."""


def insufficient(field: str = "amount_fen") -> ValidationError:
    return ValidationError({field: ValidationError(_("Not enough money."), code="insufficient_funds")})


def _get_or_create(brand: Brand, **lookup) -> Account:
    account = Account.objects.for_brand(brand).filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(brand=brand, **lookup)
    except IntegrityError:
        # Created by a concurrent transaction a moment ago.
        return Account.objects.for_brand(brand).get(**lookup)


def account(brand: Brand, kind: str) -> Account:
    """One of the brand's singleton accounts (pool, payout_pending, funding, paid_out)."""
    with brand_scope(brand):
        return _get_or_create(brand, kind=kind)


def wallet(brand: Brand, staff: Staff | int) -> Account:
    """A staff member's wallet account, created on first use."""
    staff_id = staff if isinstance(staff, int) else staff.pk
    with brand_scope(brand):
        return _get_or_create(brand, kind=K.WALLET, staff_id=staff_id)


def lock(accounts: Iterable[Account]) -> dict[int, Account]:
    """Lock these accounts' rows (in id order) and return fresh copies by id."""
    ids = sorted({a.pk for a in accounts})
    rows = Account.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    return {a.pk: a for a in rows}


def post(
    *,
    brand: Brand,
    kind: str,
    key: str,
    legs: list[tuple[Account, int]],
    memo: str = "",
    actor: Actor | None = None,
    locked: dict[int, Account] | None = None,
    **refs,
) -> Transaction:
    """Write one balanced transaction. ``legs`` are (account, signed amount in fen); the caller's
    transaction must be open. Raises ``insufficient`` if a non-negative balance would drop below
    zero, IntegrityError if ``key`` was posted before."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger.post must run inside the caller's transaction")
    legs = [(a, int(amt)) for a, amt in legs if amt]
    if len(legs) < 2 or sum(amt for _a, amt in legs) != 0:
        raise Unbalanced(f"{kind}: legs {[(a.pk, amt) for a, amt in legs]} do not balance")
    if len({a.pk for a, _amt in legs}) != len(legs):
        raise Unbalanced(f"{kind}: an account appears twice")
    for a, _amt in legs:
        if a.brand_id != brand.pk:
            raise Unbalanced(f"{kind}: account {a.pk} belongs to another brand")
    fresh = dict(locked or {})
    missing = [a for a, _amt in legs if a.pk not in fresh]
    if missing:
        fresh.update(lock(missing))
    now = timezone.now()
    for a, amt in legs:
        cur = fresh[a.pk]
        if cur.kind not in Account.EXTERNAL and cur.balance_fen + amt < 0:
            raise insufficient()
    txn = Transaction.objects.create(
        brand=brand,
        kind=kind,
        key=key,
        memo=memo[:200],
        actor=actor.user if actor is not None else None,
        created_at=now,
        **refs,
    )
    entries = []
    for a, amt in legs:
        cur = fresh[a.pk]
        cur.balance_fen += amt
        Account.objects.filter(pk=cur.pk).update(balance_fen=F("balance_fen") + amt)
        entries.append(
            Entry(
                brand=brand,
                transaction=txn,
                account=cur,
                amount_fen=amt,
                balance_after_fen=cur.balance_fen,
                created_at=now,
            )
        )
        a.balance_fen = cur.balance_fen
    Entry.objects.bulk_create(entries)
    return txn


def correct(*, brand: Brand, original: Transaction, memo: str, actor: Actor | None) -> Transaction:
    """Reverse a posted transaction with a new one (the original stays as it was written)."""
    if not memo.strip():
        raise ValidationError({"memo": _("Say why this is corrected.")})
    with brand_scope(brand):
        original = Transaction.objects.get(pk=original.pk)
        legs = [(e.account, -e.amount_fen) for e in original.entries.select_related("account")]
        try:
            with transaction.atomic():
                return post(
                    brand=brand,
                    kind=Transaction.Kind.CORRECTION,
                    key=f"correct:{original.pk}",
                    legs=legs,
                    memo=memo,
                    actor=actor,
                    corrects=original,
                )
        except IntegrityError as exc:
            raise ValidationError(
                _("This transaction was already corrected."), code="already_corrected"
            ) from exc
