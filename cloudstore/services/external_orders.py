"""Orders pushed by ISVs (flagship shop, store POS): recorded once per external id, with
the payments taken in their system, and moved on by them."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cloudstore import events
from cloudstore.models import Coupon, Order, OrderLine, Payment, Sku
from cloudstore.services import inventory, promotions
from cloudstore.services.checkout import allocate, last_touch
from cloudstore.services.order_payments import mark_paid
from cloudstore.services.order_status import (
    S,
    error,
    order_items,
    order_number,
    transition,
)
from members import codes
from members import services as member_services
from members.models import GuideBinding, Member
from retail import idempotency, payments, roles
from retail.events import Actor
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope


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


# --- orders pushed by ISVs (flagship shop, store POS) ----------------------------------------------


def member_from(brand: Brand, ref: dict | None) -> Member | None:
    if not ref:
        return None
    if ref.get("member_code"):
        try:
            pk = codes.member_code_read(ref["member_code"], brand_id=brand.pk)
        except codes.CodeError as exc:
            raise error("member", str(exc), "invalid_member_code") from exc
        member = Member.objects.filter(pk=pk).first()
        return member_services.member_active(member) if member else None
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
        raise error(
            "channel", _("Orders through the API come from the flagship shop or a POS."), "bad_channel"
        )
    external_id = data["external_id"]

    def find() -> Order | None:
        existing = Order.objects.filter(channel=channel, external_id=external_id).first()
        return None if existing is None else _replay(existing, fingerprint)

    def write() -> Order:
        store = None
        if data.get("store"):
            store = Store.objects.filter(code=data["store"]).first()
            if store is None:
                raise error("store", _("Unknown store code."), "unknown_store")
            if not roles.sees_all_stores(staff) and store.pk not in roles.store_ids(staff):
                raise error("store", _("Not one of your stores."), "not_your_store")
        elif channel == Order.Channel.POS:
            raise error("store", _("A POS order names its store."), "required")
        elif not roles.sees_all_stores(staff):
            raise error("store", _("Only a brand admin may record orders without a store."), "required")
        member = member_from(brand, data.get("member"))
        skus = {
            s.code: s
            for s in Sku.objects.filter(code__in=[ln["sku"] for ln in data["lines"]]).select_related(
                "product"
            )
        }
        unknown = sorted({ln["sku"] for ln in data["lines"]} - set(skus))
        if unknown:
            raise error(
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
            raise error("discount_fen", _("The discounts exceed the order amount."), "bad_amount")
        status = data.get("status", S.PAID)
        paid = sum(p["amount_fen"] for p in data.get("payments", []))
        if status in (S.PAID, S.COMPLETED) and paid != total:
            raise error(
                "payments",
                _("Payments (%(paid)s fen) must equal the order total (%(total)s fen).")
                % {"paid": paid, "total": total},
                "payments_mismatch",
            )
        if status == S.CREATED and paid:
            raise error("payments", _("An unpaid order has no payments."), "payments_mismatch")
        # A historic order is judged by who the member's guides were when it happened.
        at = data.get("occurred_at") or timezone.now()
        touch = last_touch(brand, member, [], at) if member is not None else None
        served_by = None
        if data.get("served_by"):
            served_by = Staff.objects.filter(pk=data["served_by"]).first()
            if served_by is None:
                raise error("served_by", _("Unknown staff member."), "unknown_staff")
        order = Order.objects.create(
            brand=brand,
            number=order_number(channel),
            channel=channel,
            external_id=external_id,
            request_hash=fingerprint,
            store=store,
            member=member,
            exclusive_guide_id=_exclusive_guide_at(member, at),
            touch=touch,
            share_guide_id=touch.guide_id if touch else None,
            served_by=served_by,
            fulfilment=Order.Fulfilment.IN_STORE if channel == Order.Channel.POS else Order.Fulfilment.ONLINE,
            subtotal_fen=subtotal,
            discount_fen=discount,
            shipping_fen=shipping,
            total_fen=total,
            coupon=coupon,
            created_at=at,
        )
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
            raise error("coupon", _("This coupon has been used."), "coupon_used")
        events.status_changed(order=order, old="", new=S.CREATED, actor=actor, data={"channel": channel})
        _record_payments(brand, order, data.get("payments", []))
        if status in (S.PAID, S.COMPLETED):
            _external_paid(brand, order, actor)
            if status == S.COMPLETED:
                transition(order, S.COMPLETED, actor)
        return order

    with brand_scope(brand):
        order = idempotency.once(find, write)
    return order, not order.replayed


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
        short = inventory.sell_unreserved(brand, order, order.store_id, order_items(order))
    # An ISV's order was paid when it happened in their system (historic imports name that time);
    # commission rules in force then are the ones that apply.
    paid_at = min(order.created_at, timezone.now())
    mark_paid(brand, order, order.total_fen, actor, {"stock_short": short} if short else {}, paid_at)


def _replay(order: Order, fingerprint: str) -> Order:
    return idempotency.replay(
        order, fingerprint, message=_("This external order id was already used for a different order.")
    )


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
            raise error(
                "status",
                _("Cloud-store orders are paid and cancelled by the shopper's payment."),
                "invalid_transition",
            )
        if to == S.PAID:
            if order.status != S.CREATED:
                raise error("status", _("Only an unpaid order can be paid."), "invalid_transition")
            paid = sum(p["amount_fen"] for p in payments_data or [])
            if paid != order.total_fen:
                raise error("payments", _("Payments must equal the order total."), "payments_mismatch")
            _record_payments(brand, order, payments_data or [])
            _external_paid(brand, order, actor)
        elif to == S.CANCELLED:
            if order.status != S.CREATED:
                raise error("status", _("A paid order is refunded, not cancelled."), "invalid_transition")
            if order.coupon_id:
                Coupon.objects.filter(pk=order.coupon_id).update(
                    status=Coupon.Status.ISSUED, order=None, external_ref="", used_at=None
                )
            transition(order, S.CANCELLED, actor)
        else:
            transition(order, to, actor)
        return order
