"""The shopper's cloud-store checkout: prices, the cart's totals (``cart.cart_totals``), reserved
stock and held coupon, and the cancellation (by the shopper or at timeout) that releases them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from cloudstore import events
from cloudstore.models import Coupon, Inventory, Order, OrderLine, Sku, Touch
from cloudstore.services import inventory, promotions
from cloudstore.services.cart import MAX_LINES, MAX_QUANTITY, cart_totals
from cloudstore.services.order_status import (
    S,
    error,
    order_items,
    order_number,
    transition,
    whole,
)
from members.models import Member
from retail import idempotency, roles
from retail.events import Actor
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope

RESERVATION_MINUTES = 15
TOUCH_WINDOW_DAYS = 30


def _out_of_stock(names: str) -> ValidationError:
    return error("lines", _("Not enough stock: %(names)s.") % {"names": names}, "out_of_stock")


def allocate(amount: int, weights: list[int]) -> list[int]:
    """Split ``amount`` over lines in proportion to ``weights``, to the fen (largest remainder)."""
    total = sum(weights)
    if amount <= 0 or total <= 0:
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    rest = amount - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in order[:rest]:
        shares[i] += 1
    return shares


# --- the shopper's checkout ---------------------------------------------------------------------


@dataclass
class PricedLine:
    sku: Sku
    quantity: int
    unit_price_fen: int


def price_lines(*, brand: Brand, store: Store, items: list[tuple[int, int]]) -> list[PricedLine]:
    """Check a cart against the store's listing and prices; ValidationError on anything off."""
    if not items:
        raise error("lines", _("The cart is empty."), "empty_cart")
    if len(items) > MAX_LINES:
        raise error(
            "lines", _("At most %(n)s different items per order.") % {"n": MAX_LINES}, "too_many_lines"
        )
    merged: dict[int, int] = {}
    for sku_id, qty in items:
        if not whole(sku_id) or not whole(qty) or not 1 <= qty <= MAX_QUANTITY:
            raise error(
                "lines",
                _("Quantities are whole numbers from 1 to %(n)s.") % {"n": MAX_QUANTITY},
                "bad_quantity",
            )
        merged[sku_id] = merged.get(sku_id, 0) + qty
    rows = {
        inv.sku_id: inv
        for inv in Inventory.objects.for_brand(brand)
        .filter(
            store=store, sku_id__in=list(merged), listed=True, sku__active=True, sku__product__status="active"
        )
        .select_related("sku__product")
    }
    missing = [s for s in merged if s not in rows]
    if missing:
        raise error("lines", _("Some items are not sold in this store."), "not_sold_here")
    short = [rows[s] for s, q in merged.items() if rows[s].available < q]
    if short:
        # Refused before anything is written; the conditional reservation stays the real guard.
        raise _out_of_stock(", ".join(inv.sku.product.name for inv in short))
    return [
        PricedLine(
            sku=rows[s].sku,
            quantity=q,
            unit_price_fen=rows[s].price_fen if rows[s].price_fen is not None else rows[s].sku.list_price_fen,
        )
        for s, q in sorted(merged.items())
    ]


def checkout(
    *,
    brand: Brand,
    store: Store,
    member: Member,
    items: list[tuple[int, int]],
    fulfilment: str,
    checkout_key: str,
    coupon_code: str = "",
    recipient: str = "",
    phone: str = "",
    address: str = "",
    note: str = "",
    touch_ids: list[int] | None = None,
) -> Order:
    """Place a cloud-store order: prices from the store, coupon held, stock reserved for
    RESERVATION_MINUTES. The same ``checkout_key`` (one per checkout form) returns the same order."""
    if store.brand_id != brand.pk or member.brand_id != brand.pk:
        raise ValidationError(_("Unknown store or member."))
    if not checkout_key or len(checkout_key) > 64:
        raise error(None, _("Reload the page and try again."), "bad_checkout_key")
    if fulfilment not in (Order.Fulfilment.SHIP, Order.Fulfilment.PICKUP):
        raise error("fulfilment", _("Choose delivery or pickup."), "bad_fulfilment")
    recipient, phone, address = (recipient or "").strip(), (phone or "").strip(), (address or "").strip()
    if fulfilment == Order.Fulfilment.SHIP:
        missing = {
            f: ValidationError(_("Required for delivery."), code="required")
            for f, v in (("recipient", recipient), ("phone", phone), ("address", address))
            if not v
        }
        if missing:
            raise ValidationError(missing)

    def find() -> Order | None:
        existing = Order.objects.filter(checkout_key=checkout_key).first()
        if existing is not None and existing.member_id != member.pk:
            raise error(None, _("Reload the page and try again."), "bad_checkout_key")
        return existing

    def write() -> Order:
        if store.status != Store.Status.OPEN:
            raise error(None, _("This store is closed."), "store_closed")
        m = Member.objects.get(pk=member.pk)
        if not m.is_active:
            raise error(None, _("This membership is not active."), "member_inactive")
        lines = price_lines(brand=brand, store=store, items=items)
        totals = cart_totals(
            brand=brand,
            amounts=[(pl.quantity, pl.unit_price_fen * pl.quantity) for pl in lines],
            fulfilment=fulfilment,
            member=m,
            coupon_code=coupon_code,
            strict=True,
        )
        coupon, discount = totals.coupon, totals.discount
        touch = last_touch(brand, m, touch_ids or [])
        now = timezone.now()
        order = Order.objects.create(
            brand=brand,
            number=order_number(Order.Channel.CLOUD_STORE),
            channel=Order.Channel.CLOUD_STORE,
            store=store,
            member=m,
            exclusive_guide_id=m.guide_id,
            touch=touch,
            share_guide_id=touch.guide_id if touch else None,
            fulfilment=fulfilment,
            subtotal_fen=totals.subtotal,
            discount_fen=totals.discount,
            shipping_fen=totals.shipping,
            total_fen=totals.total,
            coupon=coupon,
            recipient=recipient[:64],
            phone=phone[:20],
            address=address[:255],
            note=(note or "").strip()[:200],
            checkout_key=checkout_key,
            reserved_until=now + datetime.timedelta(minutes=RESERVATION_MINUTES),
            created_at=now,
        )
        shares = allocate(discount, [pl.unit_price_fen * pl.quantity for pl in lines])
        OrderLine.objects.bulk_create(
            [
                OrderLine(
                    brand=brand,
                    order=order,
                    sku=pl.sku,
                    name=f"{pl.sku.product.name} {pl.sku.spec}".strip()[:200],
                    quantity=pl.quantity,
                    unit_price_fen=pl.unit_price_fen,
                    discount_fen=share,
                )
                for pl, share in zip(lines, shares, strict=True)
            ]
        )
        short = inventory.reserve(brand, order, store.pk, [(pl.sku.pk, pl.quantity) for pl in lines])
        if short:
            raise _out_of_stock(", ".join(pl.sku.product.name for pl in lines if pl.sku.pk in short))
        if coupon is not None and not promotions.coupon_take(coupon, to=Coupon.Status.HELD, order=order):
            raise error("coupon", _("This coupon has been used."), "coupon_used")
        events.status_changed(order=order, old="", new=S.CREATED, data={"channel": order.channel})
        return order

    # The same checkout_key (a form sent twice, or at once) is the same order.
    with brand_scope(brand):
        return idempotency.once(find, write)


def last_touch(
    brand: Brand, member: Member, touch_ids: list[int], at: datetime.datetime | None = None
) -> Touch | None:
    """The latest share-link touch of this shopper within the window before ``at`` (default now),
    their own or this browser's."""
    at = at or timezone.now()
    qs = Touch.objects.filter(
        created_at__gte=at - datetime.timedelta(days=TOUCH_WINDOW_DAYS), created_at__lte=at
    )
    mine = qs.filter(member=member).order_by("-created_at", "-id").first()
    anon = (
        qs.filter(pk__in=touch_ids[:50], member__isnull=True).order_by("-created_at", "-id").first()
        if touch_ids
        else None
    )
    candidates = [t for t in (mine, anon) if t is not None]
    return max(candidates, key=lambda t: (t.created_at, t.pk)) if candidates else None


# --- cancellations and timeouts -----------------------------------------------------------------


def order_cancel(
    *, brand: Brand, order: Order, actor: Actor | None, reason: str, staff: Staff | None = None
) -> Order:
    """Cancel an unpaid order: its stock reservation and coupon are released."""
    if staff is not None:
        roles.require(brand, staff, order.store_id is None or roles.works_at(staff, order.store_id))
    with brand_scope(brand):
        order = Order.objects.select_for_update(no_key=True).get(pk=order.pk)
        if order.status == S.CANCELLED:
            return order
        _release(brand, order)
        transition(order, S.CANCELLED, actor, {"reason": reason[:200]}, reserved_until=None)
        return order


def _release(brand: Brand, order: Order) -> None:
    if order.status != S.CREATED:
        return  # _transition refuses; nothing was reserved for other states
    if order.channel == Order.Channel.CLOUD_STORE and order.store_id:
        inventory.release(brand, order, order.store_id, order_items(order))
    if order.coupon_id:
        Coupon.objects.filter(pk=order.coupon_id, status=Coupon.Status.HELD).update(
            status=Coupon.Status.ISSUED, order=None
        )


def orders_expire(*, brand: Brand, now: datetime.datetime | None = None) -> int:
    """Cancel unpaid cloud-store orders whose time to pay ran out (each in its own short transaction)."""
    now = now or timezone.now()
    done = 0
    with brand_scope(brand):
        ids = list(
            Order.objects.filter(status=S.CREATED, reserved_until__lte=now).values_list("pk", flat=True)[
                :1000
            ]
        )
    for pk in ids:
        with brand_scope(brand):
            order = (
                Order.objects.select_for_update(no_key=True, skip_locked=True)
                .filter(pk=pk, status=S.CREATED)
                .first()
            )
            if order is None:
                continue
            _release(brand, order)
            transition(order, S.CANCELLED, None, {"reason": "payment timeout"}, reserved_until=None)
            done += 1
    return done
