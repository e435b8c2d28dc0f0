"""Refunds of paid orders, by lines or by amount, once per idempotency key.

A refund is written in one short locked transaction (amounts, stock, points, events, audit) with
its money transfer ``pending``; the payment provider is called only after that commit, outside
any transaction (``refund_send``, queued on commit and swept by the periodic task), and its
answer is recorded in a second short transaction. A failed or timed-out call leaves the
transfer ``failed`` to be sent again with the same refund key, which the provider deduplicates."""

from __future__ import annotations

import datetime
import logging

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cloudstore import events
from cloudstore.models import Order, OrderLine, Payment, Refund
from cloudstore.services import inventory
from cloudstore.services.order_status import (
    REFUNDABLE,
    S,
    error,
    transition,
    whole,
)
from members import services as member_services
from members.models import Member
from retail import idempotency, payments, roles
from retail.events import Actor
from retail.models import Brand, Staff
from retail.outbox import enqueue_on_commit
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)

T = Refund.Transfer
TO_SEND = (T.PENDING, T.FAILED)
# How long one sender holds a transfer before another may take it over (a sender that died).
TRANSFER_LEASE = datetime.timedelta(minutes=2)
SEND_TASK = "cloudstore.tasks.refund_send"

# --- refunds ---------------------------------------------------------------------------------------


def _line_amount(line: OrderLine, qty: int) -> int:
    """What ``qty`` more units of the line return: cumulative floors, so a whole line adds up exactly."""
    amount = line.amount_fen
    before = amount * line.refunded_quantity // line.quantity
    after = amount * (line.refunded_quantity + qty) // line.quantity
    return after - before


def refund_create(
    *,
    brand: Brand,
    staff: Staff,
    actor: Actor,
    order: Order,
    key: str,
    fingerprint: str,
    lines: list[dict] | None = None,
    amount_fen: int | None = None,
    restock: bool | None = None,
    reason: str,
    shopper_note: str = "",
) -> tuple[Refund, bool]:
    """Refund part or all of a paid order, once per ``key``: by lines (quantities; their paid share
    is returned, the goods restocked if they came back) or by an amount. Points earned are
    reversed in proportion; an ``order.refunded`` event follows the commit.

    ``restock``: None puts returned items back when the order was sold from a store's stock; True
    is refused for an order that was not. ``reason`` is for staff; the shopper sees
    ``shopper_note`` if given, else a neutral word."""
    roles.require(
        brand,
        staff,
        roles.can_manage_stores(staff)
        or (order.store_id is not None and roles.can_manage_store(staff, order.store_id)),
    )
    reason = (reason or "").strip()
    if not reason:
        raise error("reason", _("Say why."), "required")
    if not key or len(key) > 128:
        raise error("key", _("An idempotency key of at most 128 characters is required."), "required")
    if not lines and amount_fen is None:
        raise error(None, _("Choose the items or the amount to refund."), "required")

    def find() -> Refund | None:
        existing = Refund.objects.filter(key=key).first()
        return None if existing is None else _replay(brand, existing, fingerprint, order)

    def lock() -> None:
        # A twin of this request that held the lock has made the refund by the time it is ours.
        nonlocal order
        order = Order.objects.select_for_update(no_key=True).get(pk=order.pk)

    def write() -> Refund:
        if order.status not in REFUNDABLE:
            raise error(None, _("Only a paid order can be refunded."), "not_refundable")
        if restock and not order.restockable:
            raise error(
                "restock",
                _("This order was not sold from a store's stock, so nothing can go back into stock."),
                "restock_unavailable",
            )
        by_id = {
            line.pk: line for line in OrderLine.objects.filter(order=order).select_for_update(no_key=True)
        }
        amount = 0
        picked: list[tuple[OrderLine, int]] = []
        for ln in lines or []:
            line = by_id.get(ln.get("line"))
            qty = ln.get("quantity")
            if line is None:
                raise error("lines", _("That item is not in this order."), "unknown_line")
            if not whole(qty) or qty < 1 or qty > line.quantity - line.refunded_quantity:
                raise error(
                    "lines",
                    _("At most %(n)s of “%(name)s” can still be refunded.")
                    % {"n": line.quantity - line.refunded_quantity, "name": line.name},
                    "refund_exceeds_quantity",
                )
            part = _line_amount(line, qty)
            picked.append((line, qty))
            line.refunded_quantity += qty
            line.refunded_fen += part
            amount += part
        if picked and all(x.refunded_quantity == x.quantity for x in by_id.values()):
            amount = order.paid_fen - order.refunded_fen  # everything back, shipping included
        if amount_fen is not None:
            if picked:
                raise error("amount_fen", _("Refund by items or by amount, not both."), "bad_refund")
            if not whole(amount_fen) or amount_fen <= 0:
                raise error("amount_fen", _("Give a positive whole number of fen."), "bad_amount")
            amount = amount_fen
        if amount > order.paid_fen - order.refunded_fen:
            raise error(
                "amount_fen",
                _("Only %(n)s fen of this order is left to refund.")
                % {"n": order.paid_fen - order.refunded_fen},
                "refund_exceeds_paid",
            )
        if amount <= 0:
            raise error("amount_fen", _("Nothing to refund."), "bad_amount")
        payment = Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).first()
        to_send = order.channel == Order.Channel.CLOUD_STORE and payment is not None
        refund = Refund.objects.create(
            brand=brand,
            order=order,
            key=key,
            request_hash=fingerprint,
            amount_fen=amount,
            restock=bool(picked and order.restockable and restock is not False),
            reason=reason[:200],
            shopper_note=(shopper_note or "").strip()[:200],
            lines=[{"line": line.pk, "sku": line.sku_id, "quantity": q} for line, q in picked],
            transfer=T.PENDING if to_send else T.NONE,
            created_by=actor.user,
        )
        if picked:
            OrderLine.objects.bulk_update(
                [line for line, _q in picked], ["refunded_quantity", "refunded_fen"]
            )
        if refund.restock:
            inventory.restock(brand, order, order.store_id, [(line.sku_id, q) for line, q in picked], actor)
        order.refunded_fen += amount
        reverse = _points_to_reverse(order)
        refund.points_reversed = reverse
        refund.save(update_fields=["points_reversed"])
        order.points_reversed += reverse
        order.save(update_fields=["refunded_fen", "points_reversed"])
        if order.member_id:
            member = Member.objects.get(pk=order.member_id)
            if member.is_active:
                member_services.points_reverse(
                    brand=brand,
                    member=member,
                    points=reverse,
                    spend_fen=amount,
                    source=f"refund:{refund.pk}",
                    note=order.number,
                )
        events.refunded(order=order, refund=refund, actor=actor)
        if order.refunded_fen == order.paid_fen:
            transition(order, S.REFUNDED, actor, {"refund": refund.pk})
        events.audit(
            brand=brand,
            actor=actor,
            action="order.refunded",
            target=order,
            data={"amount_fen": amount, "key": key, "restock": refund.restock},
        )
        if to_send:
            enqueue_on_commit(SEND_TASK, brand.pk, refund.pk)
        return refund

    with brand_scope(brand):
        refund = idempotency.once(find, write, lock=lock)
    return refund, refund.replayed


def _replay(brand: Brand, existing: Refund, fingerprint: str, order: Order) -> Refund:
    """The first refund made with this key; its transfer is sent again if it has not gone through."""
    refund = idempotency.replay(existing, fingerprint, same=existing.order_id == order.pk)
    if refund.transfer in TO_SEND:
        enqueue_on_commit(SEND_TASK, brand.pk, refund.pk)
    return refund


def refund_send(*, brand: Brand, refund: Refund) -> Refund:
    """Return a refund's money through the payment provider, outside any transaction: claimed in
    one short transaction (one sender at a time), the answer recorded in another. Repeatable:
    a sent refund is left alone, and the provider deduplicates by the refund key."""
    now = timezone.now()
    with brand_scope(brand):
        claimed = (
            Refund.objects.filter(pk=refund.pk, transfer__in=TO_SEND)
            .filter(Q(transfer_claimed_at__isnull=True) | Q(transfer_claimed_at__lte=now - TRANSFER_LEASE))
            .update(transfer_claimed_at=now)
        )
        refund = Refund.objects.get(pk=refund.pk)
        payment = Payment.objects.filter(order_id=refund.order_id, status=Payment.Status.SUCCEEDED).first()
    if not claimed or payment is None:
        return refund
    try:
        reference = payments.recorded(payment.provider).refund(
            reference=payment.reference, amount_fen=refund.amount_fen, refund_key=f"{brand.pk}:{refund.key}"
        )
    except Exception as exc:  # refused, unreachable or timed out: the money may not have moved
        logger.warning("refund %s: the payment provider failed, to be sent again: %r", refund.pk, exc)
        with brand_scope(brand):
            Refund.objects.filter(pk=refund.pk, transfer__in=TO_SEND, transfer_claimed_at=now).update(
                transfer=T.FAILED,
                transfer_error=(str(exc) or type(exc).__name__)[:200],
                transfer_claimed_at=None,
            )
            return Refund.objects.get(pk=refund.pk)
    with brand_scope(brand):
        Refund.objects.filter(pk=refund.pk, transfer__in=TO_SEND).update(
            transfer=T.SENT, provider_reference=reference[:64], transfer_error="", transfer_claimed_at=None
        )
        return Refund.objects.get(pk=refund.pk)


def refunds_resend(*, brand: Brand, older_than_seconds: int = 60, batch: int = 200) -> int:
    """Send again the refunds whose transfer failed or whose sender went away; returns how many
    went through."""
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    with brand_scope(brand):
        ids = list(
            Refund.objects.filter(transfer__in=TO_SEND, created_at__lte=cutoff)
            .filter(Q(transfer_claimed_at__isnull=True) | Q(transfer_claimed_at__lte=cutoff - TRANSFER_LEASE))
            .order_by("created_at", "id")
            .values_list("pk", flat=True)[:batch]
        )
    sent = 0
    for pk in ids:
        refund = refund_send(brand=brand, refund=Refund(pk=pk))
        sent += refund.transfer == T.SENT
    return sent


def _points_to_reverse(order: Order) -> int:
    if not order.points_earned or not order.paid_fen:
        return 0
    target = order.points_earned * order.refunded_fen // order.paid_fen
    return max(0, target - order.points_reversed)
