"""Order events: written in the order's transaction (OrderEvent, the order's history) and emitted
through the outbox (retail/outbox.py) to their subscribers (commission attribution, webhooks)
after commit. Staff actions also go to the audit log."""

from __future__ import annotations

from cloudstore.models import Order, OrderEvent
from retail import outbox
from retail.events import Actor, record
from retail.models import Brand


def _emit(name: str, order: Order, data: dict) -> None:
    outbox.emit(brand_id=order.brand_id, name=name, payload={"order_id": order.pk, **data})


def status_changed(
    *, order: Order, old: str, new: str, actor: Actor | None = None, data: dict | None = None
) -> OrderEvent:
    data = data or {}
    ev = OrderEvent.objects.create(
        brand_id=order.brand_id,
        order=order,
        kind=OrderEvent.Kind.STATUS,
        from_status=old,
        to_status=new,
        data=data,
        actor=actor.user if actor else None,
    )
    if new == Order.Status.PAID:
        _emit("order.paid", order, data)
    elif new == Order.Status.CANCELLED:
        _emit("order.cancelled", order, data)
    _emit("order.status", order, {"from": old, "to": new})
    return ev


def payment_notice(*, order: Order, data: dict) -> OrderEvent:
    return OrderEvent.objects.create(
        brand_id=order.brand_id, order=order, kind=OrderEvent.Kind.PAYMENT, data=data
    )


def refunded(*, order: Order, refund, actor: Actor | None) -> OrderEvent:
    data = {
        "refund_id": refund.pk,
        "amount_fen": refund.amount_fen,
        "lines": refund.lines,
        "restock": refund.restock,
        "reason": refund.reason,
    }
    ev = OrderEvent.objects.create(
        brand_id=order.brand_id,
        order=order,
        kind=OrderEvent.Kind.REFUND,
        data=data,
        actor=actor.user if actor else None,
    )
    _emit("order.refunded", order, data)
    return ev


def audit(
    *, brand: Brand, actor: Actor, action: str, target=None, data: dict | None = None, target_repr=None
):
    return record(brand=brand, actor=actor, action=action, target=target, data=data, target_repr=target_repr)
