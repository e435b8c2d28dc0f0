"""The order status flow every channel shares, and the staff's moves along it: shipped,
picked up (the pickup QR), completed."""

from __future__ import annotations

import secrets

from django.core import signing
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from cloudstore import events, selectors
from cloudstore.models import Order
from retail import roles
from retail.events import Actor
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope

PICKUP_SALT = selectors.PICKUP_SALT

S = Order.Status
TRANSITIONS: dict[str, set[str]] = {
    S.CREATED: {S.PAID, S.CANCELLED},
    S.PAID: {S.FULFILLED, S.PICKED_UP, S.COMPLETED, S.REFUNDED},
    S.FULFILLED: {S.COMPLETED, S.REFUNDED},
    S.PICKED_UP: {S.COMPLETED, S.REFUNDED},
    S.COMPLETED: {S.REFUNDED},
    S.CANCELLED: set(),
    S.REFUNDED: set(),
}
REFUNDABLE = {S.PAID, S.FULFILLED, S.PICKED_UP, S.COMPLETED}


def error(field: str | None, message: str, code: str) -> ValidationError:
    err = ValidationError(message, code=code)
    return ValidationError({field: err}) if field else err


def whole(n) -> bool:
    return isinstance(n, int) and not isinstance(n, bool)


def order_number(channel: str) -> str:
    prefix = {Order.Channel.CLOUD_STORE: "C", Order.Channel.FLAGSHIP: "F", Order.Channel.POS: "P"}[channel]
    return f"{prefix}{timezone.now():%y%m%d}{secrets.randbelow(10**8):08d}"


def transition(order: Order, to: str, actor: Actor | None, data: dict | None = None, **fields) -> None:
    old = order.status
    if to not in TRANSITIONS[old]:
        raise error(
            "status",
            _("An order that is %(old)s cannot become %(new)s.") % {"old": S(old).label, "new": S(to).label},
            "invalid_transition",
        )
    order.status = to
    for k, v in fields.items():
        setattr(order, k, v)
    if to in (S.COMPLETED, S.CANCELLED, S.REFUNDED):
        order.closed_at = timezone.now()
        fields["closed_at"] = order.closed_at
    order.save(update_fields=["status", *fields])
    events.status_changed(order=order, old=old, new=to, actor=actor, data=data)


def order_items(order: Order) -> list[tuple[int, int]]:
    return [(line.sku_id, line.quantity) for line in order.lines.all()]


# --- staff: fulfilment and pickups ----------------------------------------------------------------


def order_advance(*, brand: Brand, staff: Staff, actor: Actor, order: Order, to: str) -> Order:
    """Store staff move a paid order on: shipped, picked up, completed."""
    if to not in (S.FULFILLED, S.PICKED_UP, S.COMPLETED):
        raise error(
            "status", _("Staff can mark an order shipped, picked up or completed."), "invalid_transition"
        )
    roles.require(brand, staff, order.store_id is None or roles.works_at(staff, order.store_id))
    with brand_scope(brand):
        order = Order.objects.select_for_update(no_key=True).get(pk=order.pk)
        if to == S.FULFILLED and order.fulfilment != Order.Fulfilment.SHIP:
            raise error("status", _("Only delivery orders are shipped."), "invalid_transition")
        if to == S.PICKED_UP and order.fulfilment != Order.Fulfilment.PICKUP:
            raise error("status", _("Only pickup orders are picked up."), "invalid_transition")
        transition(order, to, actor, {"by": staff.pk})
        return order


def pickup_token(order: Order) -> str:
    """What the shopper's pickup QR holds: signed order id and code."""
    return signing.dumps({"o": order.pk, "c": order.pickup_code}, salt=PICKUP_SALT, compress=True)


def pickup_confirm(
    *, brand: Brand, staff: Staff, actor: Actor, store: Store, code: str, order_id: int | None = None
) -> Order:
    """Staff scan the shopper's pickup QR (or type the 6 digits) and hand over the goods; with
    ``order_id`` (the order the staff member was shown) the code must name that very order."""
    roles.require(brand, staff, roles.works_at(staff, store.pk))
    match = selectors.pickup_code_filter(code)
    with brand_scope(brand):
        order = None
        if match is not None:
            qs = Order.objects.select_for_update(no_key=True).filter(
                match, store=store, fulfilment=Order.Fulfilment.PICKUP, status=S.PAID
            )
            if order_id is not None:
                qs = qs.filter(pk=order_id)
            order = qs.first()
        if order is None:
            raise error("code", _("No order waiting for pickup here has this code."), "unknown_pickup")
        transition(order, S.PICKED_UP, actor, {"by": staff.pk})
        return order
