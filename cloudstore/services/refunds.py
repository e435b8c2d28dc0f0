"""Refunds of paid orders, by lines or by amount, once per idempotency key."""

from __future__ import annotations

from django.utils.translation import gettext as _

from cloudstore import events, payments
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
from retail import idempotency, roles
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

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
    with brand_scope(brand):
        existing = Refund.objects.filter(key=key).first()
        if existing is not None:
            return idempotency.replay(existing, fingerprint, same=existing.order_id == order.pk), True
        order = Order.objects.select_for_update(no_key=True).get(pk=order.pk)
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
            created_by=actor.user,
        )
        if picked:
            OrderLine.objects.bulk_update(
                [line for line, _q in picked], ["refunded_quantity", "refunded_fen"]
            )
        if refund.restock:
            inventory.restock(brand, order, order.store_id, [(line.sku_id, q) for line, q in picked], actor)
        payment = Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED).first()
        if order.channel == Order.Channel.CLOUD_STORE and payment is not None:
            refund.provider_reference = payments.provider(payment.provider).refund(
                reference=payment.reference, amount_fen=amount, refund_key=f"{brand.pk}:{key}"
            )
        order.refunded_fen += amount
        reverse = _points_to_reverse(order)
        refund.points_reversed = reverse
        refund.save(update_fields=["provider_reference", "points_reversed"])
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
        return refund, False


def _points_to_reverse(order: Order) -> int:
    if not order.points_earned or not order.paid_fen:
        return 0
    target = order.points_earned * order.refunded_fen // order.paid_fen
    return max(0, target - order.points_reversed)
