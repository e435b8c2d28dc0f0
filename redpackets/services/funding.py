"""Topping up the brand's pool through the payment provider.

A top-up is registered with the provider (the admin is sent to its cashier page); the money is
credited to the pool only when the provider's signed notice says it was paid, or when the
scheduled poll asks the provider and hears so. Notices can arrive any number of times: a top-up
is credited once (its ledger key is unique).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from redpackets import events
from redpackets.models import Account, TopUp, Transaction
from redpackets.services import ledger
from retail import payments, roles
from retail.events import Actor
from retail.idempotency import digest, once, replayed
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

TOPUP_MAX_FEN = 100_000_000  # ¥1,000,000 per top-up
REFERENCE_PREFIX = "TOP"


def topup_start(
    *, brand: Brand, staff: Staff, actor: Actor, amount_fen: int, key: str, fingerprint: str
) -> TopUp:
    """Register a top-up of the pool with the payment provider (brand admins only). Idempotent on ``key``."""
    roles.require(brand, staff, staff.is_brand_admin)
    if (
        not isinstance(amount_fen, int)
        or isinstance(amount_fen, bool)
        or not 1 <= amount_fen <= TOPUP_MAX_FEN
    ):
        raise ValidationError({"amount_fen": _("Between ¥0.01 and ¥1,000,000.")})
    if not key or len(key) > 160:
        raise ValidationError({"key": _("An idempotency key is required.")})

    def write() -> TopUp:
        topup = TopUp.objects.create(
            brand=brand,
            amount_fen=amount_fen,
            provider=payments.provider().name,
            reference=payments.new_reference(REFERENCE_PREFIX),
            key=key,
            request_hash=digest(fingerprint),
            created_by=staff,
        )
        events.topup_started(brand=brand, actor=actor, topup=topup)
        return topup

    with brand_scope(brand):
        topup = once(lambda: replayed(TopUp, brand, key, fingerprint), write)
    if topup.replayed:
        return topup
    # The provider is asked once the top-up is committed, with no transaction open.
    provider = payments.recorded(topup.provider)
    try:
        topup.pay_url = provider.start(
            brand_slug=brand.slug, brand_id=brand.pk, reference=topup.reference, amount_fen=amount_fen
        )
    except Exception:
        with brand_scope(brand):
            TopUp.objects.filter(pk=topup.pk, status=TopUp.Status.PENDING).update(status=TopUp.Status.FAILED)
        raise
    with brand_scope(brand):
        TopUp.objects.filter(pk=topup.pk).update(pay_url=topup.pay_url)
    return topup


def topup_notice(*, brand: Brand, provider_name: str, notice: payments.Notice) -> TopUp:
    """Apply the provider's word on a top-up: paid credits the pool (once), failed closes it."""
    with brand_scope(brand):
        topup = (
            TopUp.objects.select_for_update(no_key=True)
            .filter(provider=provider_name, reference=notice.reference)
            .first()
        )
        if topup is None:
            raise ValidationError(_("Unknown top-up."), code="unknown_reference")
        if topup.status != TopUp.Status.PENDING:
            return topup
        if notice.amount_fen != topup.amount_fen:
            raise ValidationError(_("The paid amount does not match the top-up."), code="amount_mismatch")
        now = timezone.now()
        if notice.status == "succeeded":
            ledger.post(
                brand=brand,
                kind=Transaction.Kind.TOPUP,
                key=f"topup:{topup.pk}",
                legs=[
                    (ledger.account(brand, Account.Kind.FUNDING), -topup.amount_fen),
                    (ledger.account(brand, Account.Kind.POOL), topup.amount_fen),
                ],
                memo=topup.reference,
                topup=topup,
            )
            topup.status = TopUp.Status.SUCCEEDED
        else:
            topup.status = TopUp.Status.FAILED
        topup.completed_at = now
        topup.save(update_fields=["status", "completed_at"])
        return topup


def topups_poll(*, brand: Brand, older_than_seconds: int = 60) -> int:
    """Ask the provider about top-ups whose notice has not come; returns how many settled."""
    return payments.poll_pending(
        brand=brand,
        model=TopUp,
        settle=topup_notice,
        older_than_seconds=older_than_seconds,
    )
