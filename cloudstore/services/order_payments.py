"""Paying a cloud-store order through the provider: start, notices (exactly once), late
payments, polling for notices that never came; points earned on payment."""

from __future__ import annotations

import datetime
import logging
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cloudstore import events
from cloudstore.models import Coupon, Order, Payment
from cloudstore.services import inventory
from cloudstore.services.order_status import (
    S,
    error,
    order_items,
    transition,
)
from members import services as member_services
from members.models import Member
from retail import payments
from retail.events import Actor
from retail.models import Brand
from retail.outbox import enqueue_on_commit
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)
RETURN_TASK = "cloudstore.tasks.payment_return"

# --- payment ------------------------------------------------------------------------------------


def payment_start(*, brand: Brand, order: Order, provider_name: str | None = None) -> tuple[Payment, str]:
    """Ask the provider to collect an unpaid order's total; returns the payment and the payer's URL."""
    provider = payments.provider(provider_name)
    with brand_scope(brand):
        order = Order.objects.select_for_update(no_key=True).get(pk=order.pk)
        if order.status != S.CREATED:
            raise error(None, _("This order is not waiting for payment."), "not_payable")
        if order.reserved_until and order.reserved_until <= timezone.now():
            raise error(
                None, _("The time to pay has run out; the order will be cancelled."), "payment_timeout"
            )
        payment = Payment.objects.create(
            brand=brand,
            order=order,
            provider=provider.name,
            reference=payments.new_reference(),
            amount_fen=order.total_fen,
        )
    # The provider is asked once the payment is written and the order's lock let go.
    try:
        url = provider.start(
            brand_slug=brand.slug,
            brand_id=brand.pk,
            reference=payment.reference,
            amount_fen=payment.amount_fen,
        )
    except Exception as exc:
        logger.warning(
            "payment %s: the provider %s did not start it: %r", payment.reference, provider.name, exc
        )
        with brand_scope(brand):
            Payment.objects.filter(pk=payment.pk, status=Payment.Status.PENDING).update(
                status=Payment.Status.FAILED, settled_at=timezone.now()
            )
        raise error(
            None, _("The payment service did not answer. Try again in a moment."), "provider_unavailable"
        ) from exc
    return payment, url


def payment_notice(*, brand: Brand, provider_name: str, notice: payments.Notice) -> Payment:
    """Apply a provider's (verified) notice, exactly once. Duplicates change nothing; a payment that
    arrives for an order that can no longer take it is returned to the payer."""
    with brand_scope(brand):
        payment = (
            Payment.objects.select_for_update(no_key=True)
            .filter(provider=provider_name, reference=notice.reference)
            .first()
        )
        if payment is None:
            raise error(None, _("Unknown payment."), "unknown_payment")
        order = Order.objects.select_for_update(no_key=True).get(pk=payment.order_id)
        payment.notifications += 1
        payment.save(update_fields=["notifications"])
        events.payment_notice(
            order=order,
            data={
                "reference": notice.reference,
                "status": notice.status,
                "amount_fen": notice.amount_fen,
                "duplicate": payment.status != Payment.Status.PENDING,
            },
        )
        if payment.status != Payment.Status.PENDING:
            return payment
        if notice.amount_fen != payment.amount_fen:
            raise error(None, _("The notice's amount does not match the payment."), "amount_mismatch")
        now = timezone.now()
        if notice.status == "failed":
            payment.status = Payment.Status.FAILED
            payment.settled_at = now
            payment.save(update_fields=["status", "settled_at"])
            return payment
        payment.status = Payment.Status.SUCCEEDED
        payment.settled_at = now
        if order.status == S.CREATED:
            payment.save(update_fields=["status", "settled_at"])
            inventory.commit(brand, order, order.store_id, order_items(order))
            if order.coupon_id:
                Coupon.objects.filter(pk=order.coupon_id).update(status=Coupon.Status.USED, used_at=now)
            mark_paid(brand, order, payment.amount_fen, None, {"payment": payment.reference})
        elif order.status == S.CANCELLED and _revive(brand, order):
            payment.save(update_fields=["status", "settled_at"])
            mark_paid(brand, order, payment.amount_fen, None, {"payment": payment.reference, "late": True})
        else:
            # Paid twice, or paid after the goods went to someone else: the money goes back, sent
            # to the provider after this commit (``payment_return``).
            payment.status = Payment.Status.REFUNDED
            payment.return_pending = True
            payment.save(update_fields=["status", "settled_at", "return_pending"])
            events.payment_notice(
                order=order, data={"reference": payment.reference, "returned_fen": payment.amount_fen}
            )
            enqueue_on_commit(RETURN_TASK, brand.pk, payment.pk)
        return payment


def payment_return(*, brand: Brand, payment: Payment) -> Payment:
    """Give back a payment the order could not take, outside any transaction; repeatable (the
    provider deduplicates by the return key), a failure is left for the next sweep."""
    with brand_scope(brand):
        payment = Payment.objects.get(pk=payment.pk)
    if not payment.return_pending:
        return payment
    try:
        payments.recorded(payment.provider).refund(
            reference=payment.reference,
            amount_fen=payment.amount_fen,
            refund_key=f"return:{payment.reference}",
        )
    except Exception as exc:  # refused, unreachable or timed out: the sweep sends it again
        logger.warning("payment %s: returning it failed, to be sent again: %r", payment.reference, exc)
        return payment
    with brand_scope(brand):
        Payment.objects.filter(pk=payment.pk).update(return_pending=False)
    payment.return_pending = False
    return payment


def payment_returns_resend(*, brand: Brand, older_than_seconds: int = 60, batch: int = 200) -> int:
    """Send again the returns of payments the provider has not confirmed; returns how many went."""
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    with brand_scope(brand):
        ids = list(
            Payment.objects.filter(return_pending=True, settled_at__lte=cutoff).values_list("pk", flat=True)[
                :batch
            ]
        )
    return sum(not payment_return(brand=brand, payment=Payment(pk=pk)).return_pending for pk in ids)


def _revive(brand: Brand, order: Order) -> bool:
    """A payment arrived after the order timed out: take it if the goods (and coupon) are still there."""
    if order.closed_at and (timezone.now() - order.closed_at) > datetime.timedelta(days=1):
        return False
    if order.coupon_id and not Coupon.objects.filter(pk=order.coupon_id, status=Coupon.Status.ISSUED).update(
        status=Coupon.Status.USED, order=order, used_at=timezone.now()
    ):
        return False
    items = order_items(order)
    if inventory.reserve(brand, order, order.store_id, items):
        if order.coupon_id:
            Coupon.objects.filter(pk=order.coupon_id).update(
                status=Coupon.Status.ISSUED, order=None, used_at=None
            )
        return False
    inventory.commit(brand, order, order.store_id, items)
    # Cancelled → paid is not a normal transition; record it as what it is.
    old = order.status
    order.status = S.CREATED
    order.closed_at = None
    order.save(update_fields=["status", "closed_at"])
    events.status_changed(order=order, old=old, new=S.CREATED, data={"reason": "late payment"})
    return True


def mark_paid(
    brand: Brand,
    order: Order,
    amount: int,
    actor: Actor | None,
    data: dict,
    paid_at: datetime.datetime | None = None,
) -> None:
    fields: dict[str, Any] = {
        "paid_fen": amount,
        "paid_at": paid_at or timezone.now(),
        "reserved_until": None,
    }
    if order.fulfilment == Order.Fulfilment.PICKUP:
        for _attempt in range(10):
            code = f"{secrets.randbelow(10**6):06d}"
            try:
                with transaction.atomic():
                    transition(order, S.PAID, actor, data, pickup_code=code, **fields)
                break
            except IntegrityError:
                order.refresh_from_db()
        else:  # pragma: no cover - a million codes per store
            raise error(None, _("Please try again."), "retry")
    else:
        transition(order, S.PAID, actor, data, **fields)
    _award_points(brand, order)


def _award_points(brand: Brand, order: Order) -> None:
    if order.member_id is None:
        return
    member = Member.objects.get(pk=order.member_id)
    if not member.is_active:
        return
    program = member_services.program_get(brand=brand)
    points = order.paid_fen * program.points_per_yuan // 100
    if points <= 0:
        return
    member_services.points_earn(
        brand=brand,
        member=member,
        points=points,
        spend_fen=order.paid_fen,
        source=f"order:{order.pk}",
        note=order.number,
    )
    Order.objects.filter(pk=order.pk).update(points_earned=points)
    order.points_earned = points


def payments_poll(*, brand: Brand, older_than_seconds: int = 60) -> int:
    """Ask the provider about payments still waiting (a notice may never come); returns how many settled."""
    return payments.poll_pending(
        brand=brand, model=Payment, settle=payment_notice, older_than_seconds=older_than_seconds
    )
