"""Order events: written in the order's transaction (OrderEvent, the outbox), handed to
subscribers (commission attribution, webhooks) only after commit. Staff actions also go to the
audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from cloudstore.models import Order, OrderEvent
from retail.events import Actor, record
from retail.models import Brand

# Other apps subscribe here: SUBSCRIBERS["order.paid"].append(fn(brand_id, order_id, data)).
SUBSCRIBERS: dict[str, list[Callable[[int, int, dict], Any]]] = {
    "order.paid": [],
    "order.refunded": [],
    "order.cancelled": [],
    "order.status": [],
}


def _publish(name: str, order: Order, data: dict) -> None:
    brand_id, order_id = order.brand_id, order.pk
    for fn in SUBSCRIBERS.get(name, []):
        transaction.on_commit(lambda fn=fn: fn(brand_id, order_id, data))


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
        _publish("order.paid", order, data)
    elif new == Order.Status.CANCELLED:
        _publish("order.cancelled", order, data)
    _publish("order.status", order, {"from": old, "to": new})
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
    _publish("order.refunded", order, data)
    return ev


def audit(
    *, brand: Brand, actor: Actor, action: str, target=None, data: dict | None = None, target_repr=None
):
    return record(brand=brand, actor=actor, action=action, target=target, data=data, target_repr=target_repr)
