"""Commission in tests: members who join through a guide, orders of every channel, refunds, rules,
and what they credit."""

from __future__ import annotations

import datetime
import hashlib
import itertools

from django.test import TestCase
from django.utils import timezone

from cloudstore.services import checkout, external_orders, order_payments, promotions, refunds
from guides.models import Attribution, CommissionEntry
from guides.services import rules
from members import services as member_services
from members.models import GuideBinding, Member
from retail import payments
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import InventoryFactory

_seq = itertools.count(1)


def committed():
    """Run what the block queues for after commit (tasks, eagerly) when it ends, as a worker would."""
    return TestCase.captureOnCommitCallbacks(execute=True)


# Who a past order credits is judged as of its time: the guides of these tests were hired long before
# the orders they place in the past, and members who buy in the past joined before (``join(since=)``).
LONG_AGO = datetime.timedelta(days=730)


def on_the_books(*staff, since=LONG_AGO):
    """Record these staff as hired ``since`` ago; returns the first."""
    with brand_scope(staff[0].brand):
        Staff.objects.filter(pk__in=[s.pk for s in staff]).update(hired_on=(timezone.now() - since).date())
    for s in staff:
        s.hired_on = (timezone.now() - since).date()
    return staff[0]


def join(brand, guide, phone=None, name="李娜", since=None):
    """A shopper joins through ``guide``'s code: a member with that exclusive guide (``since``: that
    long ago, their binding too)."""
    phone = phone or f"1588{next(_seq):07d}"
    with committed():
        member = member_services.member_join(
            brand=brand, phone=phone, guide=guide, consent=True, name=name
        ).member
    if since is not None:
        at = timezone.now() - since
        with brand_scope(brand):
            Member.objects.filter(pk=member.pk).update(joined_at=at)
            GuideBinding.objects.filter(member=member).update(started_at=at)
        member.joined_at = at
    return member


def external(brand, admin, channel, member=None, lines=None, store=None, served_by=None, at=None, discount=0):
    """A paid flagship or POS order pushed by an ISV; returns the order."""
    lines = lines or []
    data = {
        "external_id": f"X{next(_seq)}",
        "lines": [{"sku": s.code, "quantity": q, "unit_price_fen": p} for s, q, p in lines],
        "discount_fen": discount,
        "status": "paid",
    }
    total = sum(q * p for _s, q, p in lines) - discount
    data["payments"] = [{"method": "card", "amount_fen": total, "reference": data["external_id"]}]
    if member is not None:
        with brand_scope(brand):
            phone = member.identities.get(kind="phone").value
        data["member"] = {"kind": "phone", "value": phone}
    if store is not None:
        data["store"] = store.code
    if served_by is not None:
        data["served_by"] = served_by.pk
    if at is not None:
        data["occurred_at"] = at
    with committed():
        order, _created = external_orders.order_external_create(
            brand=brand,
            staff=admin,
            actor=Actor.system(),
            channel=channel,
            data=data,
            fingerprint=hashlib.sha256(str(data).encode()).hexdigest(),
        )
    return order


def cloud_order(brand, store, member, sku, qty=1, touch_ids=None):
    """A cloud-store order checked out and paid through the simulated provider."""
    with brand_scope(brand):
        if not sku.inventory.filter(store=store).exists():
            InventoryFactory(brand=brand, store=store, sku=sku, on_hand=100)
    order = checkout.checkout(
        brand=brand,
        store=store,
        member=member,
        items=[(sku.pk, qty)],
        fulfilment="pickup",
        checkout_key=f"k{next(_seq)}",
        touch_ids=touch_ids or [],
    )
    payment, _url = order_payments.payment_start(brand=brand, order=order)
    sim = payments.provider("sim")
    sim.settle(payment.reference, "succeeded")
    body, sig = sim.signed_notice(payment.reference)
    with committed():
        order_payments.payment_notice(brand=brand, provider_name="sim", notice=sim.parse_notice(body, sig))
    return order


def refund(brand, admin, order, amount_fen=None, lines=None, key=None):
    with committed():
        return refunds.refund_create(
            brand=brand,
            staff=admin,
            actor=Actor.system(),
            order=order,
            key=key or f"r{next(_seq)}",
            fingerprint=f"f{next(_seq)}",
            lines=lines,
            amount_fen=amount_fen,
            restock=False,
            reason="退货",
        )[0]


def share_touch(brand, guide, store, member=None):
    link = promotions.share_link_get(brand=brand, guide=guide, kind="store", store=store)
    _link, touch = promotions.share_link_open(brand=brand, code=link.code, member=member, visitor="v1")
    return touch


def rule(brand, admin, **kw):
    data = {"name": kw.pop("name", "rule"), "kind": kw.pop("kind", "percent"), **kw}
    data.setdefault("effective_from", timezone.now() - datetime.timedelta(days=400))
    return rules.commission_rule_create(brand=brand, staff=admin, actor=Actor.system(), data=data)


def attribution_of(brand, order):
    with brand_scope(brand):
        return Attribution.objects.filter(order=order).first()


def entries(brand, **filters):
    with brand_scope(brand):
        return list(CommissionEntry.objects.filter(**filters).order_by("id"))


def credited(brand, guide) -> int:
    return sum(e.amount_fen for e in entries(brand, guide=guide))
