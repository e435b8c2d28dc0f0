"""Orders from every channel: cloud-store checkout with reserved stock, payments and their
notices, the status flow, pickups, orders pushed by ISVs, cancellations, timeouts and refunds."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cloudstore import events, payments, selectors
from cloudstore.models import Coupon, Inventory, Order, OrderLine, Payment, Refund, Sku, Touch
from cloudstore.services import inventory, promotions
from members import codes
from members import services as member_services
from members.models import GuideBinding, Member
from retail import roles
from retail.events import Actor
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope

RESERVATION_MINUTES = 15
MAX_LINES = 50
MAX_QUANTITY = 99
TOUCH_WINDOW_DAYS = 30
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


def _error(field: str | None, message: str, code: str) -> ValidationError:
    err = ValidationError(message, code=code)
    return ValidationError({field: err}) if field else err


def _out_of_stock(names: str) -> ValidationError:
    return _error("lines", _("Not enough stock: %(names)s.") % {"names": names}, "out_of_stock")


def _whole(n) -> bool:
    return isinstance(n, int) and not isinstance(n, bool)


def _number(channel: str) -> str:
    prefix = {Order.Channel.CLOUD_STORE: "C", Order.Channel.FLAGSHIP: "F", Order.Channel.POS: "P"}[channel]
    return f"{prefix}{timezone.now():%y%m%d}{secrets.randbelow(10**8):08d}"


def free_shipping_from(brand: Brand) -> int:
    """Subtotal (fen) from which delivery is free; brand setting ``free_shipping_from_fen``."""
    return int(brand.settings.get("free_shipping_from_fen", 9900))


def shipping_fee(brand: Brand, fulfilment: str, subtotal: int) -> int:
    """Delivery fee (fen) of an order: brand setting ``shipping_fee_fen``, free from a subtotal."""
    if fulfilment != Order.Fulfilment.SHIP:
        return 0
    fee = int(brand.settings.get("shipping_fee_fen", 1000))
    return 0 if subtotal >= free_shipping_from(brand) else fee


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


def _transition(order: Order, to: str, actor: Actor | None, data: dict | None = None, **fields) -> None:
    old = order.status
    if to not in TRANSITIONS[old]:
        raise _error(
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


def _items(order: Order) -> list[tuple[int, int]]:
    return [(line.sku_id, line.quantity) for line in order.lines.all()]


# --- the shopper's checkout ---------------------------------------------------------------------


@dataclass
class PricedLine:
    sku: Sku
    quantity: int
    unit_price_fen: int


def price_lines(*, brand: Brand, store: Store, items: list[tuple[int, int]]) -> list[PricedLine]:
    """Check a cart against the store's listing and prices; ValidationError on anything off."""
    if not items:
        raise _error("lines", _("The cart is empty."), "empty_cart")
    if len(items) > MAX_LINES:
        raise _error(
            "lines", _("At most %(n)s different items per order.") % {"n": MAX_LINES}, "too_many_lines"
        )
    merged: dict[int, int] = {}
    for sku_id, qty in items:
        if not _whole(sku_id) or not _whole(qty) or not 1 <= qty <= MAX_QUANTITY:
            raise _error(
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
        raise _error("lines", _("Some items are not sold in this store."), "not_sold_here")
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
        raise _error(None, _("Reload the page and try again."), "bad_checkout_key")
    if fulfilment not in (Order.Fulfilment.SHIP, Order.Fulfilment.PICKUP):
        raise _error("fulfilment", _("Choose delivery or pickup."), "bad_fulfilment")
    recipient, phone, address = (recipient or "").strip(), (phone or "").strip(), (address or "").strip()
    if fulfilment == Order.Fulfilment.SHIP:
        missing = {
            f: ValidationError(_("Required for delivery."), code="required")
            for f, v in (("recipient", recipient), ("phone", phone), ("address", address))
            if not v
        }
        if missing:
            raise ValidationError(missing)
    with brand_scope(brand):
        existing = Order.objects.filter(checkout_key=checkout_key).first()
        if existing is not None:
            if existing.member_id != member.pk:
                raise _error(None, _("Reload the page and try again."), "bad_checkout_key")
            return existing
        if store.status != Store.Status.OPEN:
            raise _error(None, _("This store is closed."), "store_closed")
        m = Member.objects.get(pk=member.pk)
        if not m.is_active:
            raise _error(None, _("This membership is not active."), "member_inactive")
        lines = price_lines(brand=brand, store=store, items=items)
        subtotal = sum(pl.unit_price_fen * pl.quantity for pl in lines)
        coupon = None
        discount = 0
        if coupon_code:
            coupon = promotions.coupon_find(brand=brand, code=coupon_code)
            discount = promotions.coupon_check(coupon, member=m, subtotal_fen=subtotal)
        shipping = shipping_fee(brand, fulfilment, subtotal)
        touch = _last_touch(brand, m, touch_ids or [])
        now = timezone.now()
        try:
            with transaction.atomic():
                order = Order.objects.create(
                    brand=brand,
                    number=_number(Order.Channel.CLOUD_STORE),
                    channel=Order.Channel.CLOUD_STORE,
                    store=store,
                    member=m,
                    exclusive_guide_id=m.guide_id,
                    touch=touch,
                    share_guide_id=touch.guide_id if touch else None,
                    fulfilment=fulfilment,
                    subtotal_fen=subtotal,
                    discount_fen=discount,
                    shipping_fen=shipping,
                    total_fen=subtotal - discount + shipping,
                    coupon=coupon,
                    recipient=recipient[:64],
                    phone=phone[:20],
                    address=address[:255],
                    note=(note or "").strip()[:200],
                    checkout_key=checkout_key,
                    reserved_until=now + datetime.timedelta(minutes=RESERVATION_MINUTES),
                    created_at=now,
                )
        except IntegrityError:
            # The same checkout submitted twice at once: the other request placed it.
            existing = Order.objects.filter(checkout_key=checkout_key).first()
            if existing is not None:
                return existing
            raise
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
            raise _error("coupon", _("This coupon has been used."), "coupon_used")
        events.status_changed(order=order, old="", new=S.CREATED, data={"channel": order.channel})
        return order


def _last_touch(
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


def _exclusive_guide_at(member: Member | None, at: datetime.datetime) -> int | None:
    """The member's exclusive guide at ``at``: the guide of their binding open then. A member who
    joined later had none; one without any binding history keeps their current guide."""
    if member is None or member.joined_at > at:
        return None
    bindings = GuideBinding.objects.filter(member=member)
    if not bindings.exists():
        return member.guide_id
    return (
        bindings.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at), started_at__lte=at)
        .order_by("-started_at", "-id")
        .values_list("guide_id", flat=True)
        .first()
    )


# --- payment ------------------------------------------------------------------------------------


def payment_start(*, brand: Brand, order: Order, provider_name: str | None = None) -> tuple[Payment, str]:
    """Ask the provider to collect an unpaid order's total; returns the payment and the payer's URL."""
    provider = payments.provider(provider_name)
    with brand_scope(brand):
        order = Order.objects.select_for_update(no_key=True).get(pk=order.pk)
        if order.status != S.CREATED:
            raise _error(None, _("This order is not waiting for payment."), "not_payable")
        if order.reserved_until and order.reserved_until <= timezone.now():
            raise _error(
                None, _("The time to pay has run out; the order will be cancelled."), "payment_timeout"
            )
        payment = Payment.objects.create(
            brand=brand,
            order=order,
            provider=provider.name,
            reference=payments.new_reference(),
            amount_fen=order.total_fen,
        )
        url = provider.start(
            brand_slug=brand.slug,
            brand_id=brand.pk,
            reference=payment.reference,
            amount_fen=payment.amount_fen,
        )
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
            raise _error(None, _("Unknown payment."), "unknown_payment")
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
            raise _error(None, _("The notice's amount does not match the payment."), "amount_mismatch")
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
            inventory.commit(brand, order, order.store_id, _items(order))
            if order.coupon_id:
                Coupon.objects.filter(pk=order.coupon_id).update(status=Coupon.Status.USED, used_at=now)
            _mark_paid(brand, order, payment.amount_fen, None, {"payment": payment.reference})
        elif order.status == S.CANCELLED and _revive(brand, order):
            payment.save(update_fields=["status", "settled_at"])
            _mark_paid(brand, order, payment.amount_fen, None, {"payment": payment.reference, "late": True})
        else:
            # Paid twice, or paid after the goods went to someone else: the money goes back.
            payments.provider(provider_name).refund(
                reference=payment.reference,
                amount_fen=payment.amount_fen,
                refund_key=f"return:{payment.reference}",
            )
            payment.status = Payment.Status.REFUNDED
            payment.save(update_fields=["status", "settled_at"])
            events.payment_notice(
                order=order, data={"reference": payment.reference, "returned_fen": payment.amount_fen}
            )
        return payment


def _revive(brand: Brand, order: Order) -> bool:
    """A payment arrived after the order timed out: take it if the goods (and coupon) are still there."""
    if order.closed_at and (timezone.now() - order.closed_at) > datetime.timedelta(days=1):
        return False
    if order.coupon_id and not Coupon.objects.filter(pk=order.coupon_id, status=Coupon.Status.ISSUED).update(
        status=Coupon.Status.USED, order=order, used_at=timezone.now()
    ):
        return False
    items = _items(order)
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


def _mark_paid(
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
                    _transition(order, S.PAID, actor, data, pickup_code=code, **fields)
                break
            except IntegrityError:
                order.refresh_from_db()
        else:  # pragma: no cover - a million codes per store
            raise _error(None, _("Please try again."), "retry")
    else:
        _transition(order, S.PAID, actor, data, **fields)
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
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    with brand_scope(brand):
        waiting = list(
            Payment.objects.filter(status=Payment.Status.PENDING, created_at__lte=cutoff).values_list(
                "provider", "reference"
            )[:500]
        )
    settled = 0
    for provider_name, reference in waiting:
        notice = payments.provider(provider_name).query(reference=reference)
        if notice is not None and notice.brand_id == brand.pk:
            payment_notice(brand=brand, provider_name=provider_name, notice=notice)
            settled += 1
    return settled


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
        _transition(order, S.CANCELLED, actor, {"reason": reason[:200]}, reserved_until=None)
        return order


def _release(brand: Brand, order: Order) -> None:
    if order.status != S.CREATED:
        return  # _transition refuses; nothing was reserved for other states
    if order.channel == Order.Channel.CLOUD_STORE and order.store_id:
        inventory.release(brand, order, order.store_id, _items(order))
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
            _transition(order, S.CANCELLED, None, {"reason": "payment timeout"}, reserved_until=None)
            done += 1
    return done


# --- staff: fulfilment and pickups ----------------------------------------------------------------


def order_advance(*, brand: Brand, staff: Staff, actor: Actor, order: Order, to: str) -> Order:
    """Store staff move a paid order on: shipped, picked up, completed."""
    if to not in (S.FULFILLED, S.PICKED_UP, S.COMPLETED):
        raise _error(
            "status", _("Staff can mark an order shipped, picked up or completed."), "invalid_transition"
        )
    roles.require(brand, staff, order.store_id is None or roles.works_at(staff, order.store_id))
    with brand_scope(brand):
        order = Order.objects.select_for_update(no_key=True).get(pk=order.pk)
        if to == S.FULFILLED and order.fulfilment != Order.Fulfilment.SHIP:
            raise _error("status", _("Only delivery orders are shipped."), "invalid_transition")
        if to == S.PICKED_UP and order.fulfilment != Order.Fulfilment.PICKUP:
            raise _error("status", _("Only pickup orders are picked up."), "invalid_transition")
        _transition(order, to, actor, {"by": staff.pk})
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
            raise _error("code", _("No order waiting for pickup here has this code."), "unknown_pickup")
        _transition(order, S.PICKED_UP, actor, {"by": staff.pk})
        return order


# --- orders pushed by ISVs (flagship shop, store POS) ----------------------------------------------


def _member_from(brand: Brand, ref: dict | None) -> Member | None:
    if not ref:
        return None
    if ref.get("member_code"):
        try:
            pk = codes.member_code_read(ref["member_code"], brand_id=brand.pk)
        except codes.CodeError as exc:
            raise _error("member", str(exc), "invalid_member_code") from exc
        member = Member.objects.filter(pk=pk).first()
        return member_services._active(member) if member else None
    return member_services.member_find(brand=brand, kind=ref.get("kind", ""), value=ref.get("value", ""))


def order_external_create(
    *, brand: Brand, staff: Staff, actor: Actor, channel: str, data: dict[str, Any], fingerprint: str
) -> tuple[Order, bool]:
    """Record an order from the flagship shop or a store POS, once per (channel, external id).

    ``data``: external_id, store (code; required for POS), member ({kind, value} or {member_code}),
    lines [{sku, quantity, unit_price_fen}], discount_fen, shipping_fen, coupon, status (created,
    paid or completed), payments [{method, amount_fen, reference}], served_by (staff id)."""
    roles.require(brand, staff, roles.can_manage_staff(staff))
    if channel not in (Order.Channel.FLAGSHIP, Order.Channel.POS):
        raise _error(
            "channel", _("Orders through the API come from the flagship shop or a POS."), "bad_channel"
        )
    external_id = data["external_id"]
    with brand_scope(brand):
        existing = Order.objects.filter(channel=channel, external_id=external_id).first()
        if existing is not None:
            return _replay(existing, fingerprint), False
        store = None
        if data.get("store"):
            store = Store.objects.filter(code=data["store"]).first()
            if store is None:
                raise _error("store", _("Unknown store code."), "unknown_store")
            if not roles.sees_all_stores(staff) and store.pk not in roles.store_ids(staff):
                raise _error("store", _("Not one of your stores."), "not_your_store")
        elif channel == Order.Channel.POS:
            raise _error("store", _("A POS order names its store."), "required")
        elif not roles.sees_all_stores(staff):
            raise _error("store", _("Only a brand admin may record orders without a store."), "required")
        member = _member_from(brand, data.get("member"))
        skus = {
            s.code: s
            for s in Sku.objects.filter(code__in=[ln["sku"] for ln in data["lines"]]).select_related(
                "product"
            )
        }
        unknown = sorted({ln["sku"] for ln in data["lines"]} - set(skus))
        if unknown:
            raise _error(
                "lines", _("Unknown SKU codes: %(codes)s") % {"codes": ", ".join(unknown[:10])}, "unknown_sku"
            )
        subtotal = sum(ln["unit_price_fen"] * ln["quantity"] for ln in data["lines"])
        discount = data.get("discount_fen", 0)
        coupon = None
        if data.get("coupon"):
            coupon = promotions.coupon_find(brand=brand, code=data["coupon"])
            discount += promotions.coupon_check(coupon, member=member, subtotal_fen=subtotal - discount)
        shipping = data.get("shipping_fen", 0)
        total = subtotal - discount + shipping
        if total < 0:
            raise _error("discount_fen", _("The discounts exceed the order amount."), "bad_amount")
        status = data.get("status", S.PAID)
        paid = sum(p["amount_fen"] for p in data.get("payments", []))
        if status in (S.PAID, S.COMPLETED) and paid != total:
            raise _error(
                "payments",
                _("Payments (%(paid)s fen) must equal the order total (%(total)s fen).")
                % {"paid": paid, "total": total},
                "payments_mismatch",
            )
        if status == S.CREATED and paid:
            raise _error("payments", _("An unpaid order has no payments."), "payments_mismatch")
        # A historic order is judged by who the member's guides were when it happened.
        at = data.get("occurred_at") or timezone.now()
        touch = _last_touch(brand, member, [], at) if member is not None else None
        served_by = None
        if data.get("served_by"):
            served_by = Staff.objects.filter(pk=data["served_by"]).first()
            if served_by is None:
                raise _error("served_by", _("Unknown staff member."), "unknown_staff")
        try:
            with transaction.atomic():
                order = Order.objects.create(
                    brand=brand,
                    number=_number(channel),
                    channel=channel,
                    external_id=external_id,
                    request_hash=fingerprint,
                    store=store,
                    member=member,
                    exclusive_guide_id=_exclusive_guide_at(member, at),
                    touch=touch,
                    share_guide_id=touch.guide_id if touch else None,
                    served_by=served_by,
                    fulfilment=Order.Fulfilment.IN_STORE
                    if channel == Order.Channel.POS
                    else Order.Fulfilment.ONLINE,
                    subtotal_fen=subtotal,
                    discount_fen=discount,
                    shipping_fen=shipping,
                    total_fen=total,
                    coupon=coupon,
                    created_at=at,
                )
        except IntegrityError:
            existing = Order.objects.filter(channel=channel, external_id=external_id).first()
            if existing is None:
                raise
            return _replay(existing, fingerprint), False
        weights = [ln["unit_price_fen"] * ln["quantity"] for ln in data["lines"]]
        shares = allocate(discount, weights)
        OrderLine.objects.bulk_create(
            [
                OrderLine(
                    brand=brand,
                    order=order,
                    sku=skus[ln["sku"]],
                    name=f"{skus[ln['sku']].product.name} {skus[ln['sku']].spec}".strip()[:200],
                    quantity=ln["quantity"],
                    unit_price_fen=ln["unit_price_fen"],
                    discount_fen=share,
                )
                for ln, share in zip(data["lines"], shares, strict=True)
            ]
        )
        if coupon is not None and not promotions.coupon_take(
            coupon, to=Coupon.Status.USED, order=order, external_ref=external_id
        ):
            raise _error("coupon", _("This coupon has been used."), "coupon_used")
        events.status_changed(order=order, old="", new=S.CREATED, actor=actor, data={"channel": channel})
        _record_payments(brand, order, data.get("payments", []))
        if status in (S.PAID, S.COMPLETED):
            _external_paid(brand, order, actor)
            if status == S.COMPLETED:
                _transition(order, S.COMPLETED, actor)
        return order, True


def _record_payments(brand: Brand, order: Order, paid: list[dict]) -> None:
    """Payments an ISV took in its own system; their reference there is kept, not relied on as unique."""
    now = timezone.now()
    Payment.objects.bulk_create(
        [
            Payment(
                brand=brand,
                order=order,
                provider=order.channel,
                method=(p.get("method") or "")[:32],
                reference=payments.new_reference("EXT"),
                external_reference=(p.get("reference") or "")[:64],
                amount_fen=p["amount_fen"],
                status=Payment.Status.SUCCEEDED,
                settled_at=now,
            )
            for p in paid
        ]
    )


def _external_paid(brand: Brand, order: Order, actor: Actor) -> None:
    short = []
    if order.channel == Order.Channel.POS and order.store_id:
        short = inventory.sell_unreserved(brand, order, order.store_id, _items(order))
    # An ISV's order was paid when it happened in their system (historic imports name that time);
    # commission rules in force then are the ones that apply.
    paid_at = min(order.created_at, timezone.now())
    _mark_paid(brand, order, order.total_fen, actor, {"stock_short": short} if short else {}, paid_at)


def _replay(order: Order, fingerprint: str) -> Order:
    if order.request_hash and order.request_hash != fingerprint:
        raise member_services.IdempotencyConflict(
            _("This external order id was already used for a different order."), code="idempotency_conflict"
        )
    return order


def order_external_status(
    *,
    brand: Brand,
    staff: Staff,
    actor: Actor,
    order: Order,
    to: str,
    payments_data: list[dict] | None = None,
) -> Order:
    """An ISV moves its order on: paid (with payments), fulfilled, completed or cancelled."""
    roles.require(brand, staff, roles.can_manage_staff(staff))
    with brand_scope(brand):
        order = Order.objects.select_for_update(no_key=True).get(pk=order.pk)
        if order.status == to:
            return order
        if order.channel == Order.Channel.CLOUD_STORE and to in (S.PAID, S.CANCELLED):
            raise _error(
                "status",
                _("Cloud-store orders are paid and cancelled by the shopper's payment."),
                "invalid_transition",
            )
        if to == S.PAID:
            if order.status != S.CREATED:
                raise _error("status", _("Only an unpaid order can be paid."), "invalid_transition")
            paid = sum(p["amount_fen"] for p in payments_data or [])
            if paid != order.total_fen:
                raise _error("payments", _("Payments must equal the order total."), "payments_mismatch")
            _record_payments(brand, order, payments_data or [])
            _external_paid(brand, order, actor)
        elif to == S.CANCELLED:
            if order.status != S.CREATED:
                raise _error("status", _("A paid order is refunded, not cancelled."), "invalid_transition")
            if order.coupon_id:
                Coupon.objects.filter(pk=order.coupon_id).update(
                    status=Coupon.Status.ISSUED, order=None, external_ref="", used_at=None
                )
            _transition(order, S.CANCELLED, actor)
        else:
            _transition(order, to, actor)
        return order


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
        raise _error("reason", _("Say why."), "required")
    if not key or len(key) > 128:
        raise _error("key", _("An idempotency key of at most 128 characters is required."), "required")
    if not lines and amount_fen is None:
        raise _error(None, _("Choose the items or the amount to refund."), "required")
    with brand_scope(brand):
        existing = Refund.objects.filter(key=key).first()
        if existing is not None:
            if existing.request_hash != fingerprint or existing.order_id != order.pk:
                raise member_services.IdempotencyConflict(
                    _("This idempotency key was already used for a different request."),
                    code="idempotency_conflict",
                )
            return existing, True
        order = Order.objects.select_for_update(no_key=True).get(pk=order.pk)
        if order.status not in REFUNDABLE:
            raise _error(None, _("Only a paid order can be refunded."), "not_refundable")
        if restock and not order.restockable:
            raise _error(
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
                raise _error("lines", _("That item is not in this order."), "unknown_line")
            if not _whole(qty) or qty < 1 or qty > line.quantity - line.refunded_quantity:
                raise _error(
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
                raise _error("amount_fen", _("Refund by items or by amount, not both."), "bad_refund")
            if not _whole(amount_fen) or amount_fen <= 0:
                raise _error("amount_fen", _("Give a positive whole number of fen."), "bad_amount")
            amount = amount_fen
        if amount > order.paid_fen - order.refunded_fen:
            raise _error(
                "amount_fen",
                _("Only %(n)s fen of this order is left to refund.")
                % {"n": order.paid_fen - order.refunded_fen},
                "refund_exceeds_paid",
            )
        if amount <= 0:
            raise _error("amount_fen", _("Nothing to refund."), "bad_amount")
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
            _transition(order, S.REFUNDED, actor, {"refund": refund.pk})
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
