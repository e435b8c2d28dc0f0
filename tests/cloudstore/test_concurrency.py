"""Races on PostgreSQL with real concurrent transactions: the last units, one coupon, duplicate
external orders, duplicate payment notices, concurrent refunds."""

import pytest
from django.core.exceptions import ValidationError

from cloudstore.models import Coupon, Inventory, Order, Payment, Refund
from cloudstore.services import checkout, external_orders, order_payments, promotions, refunds
from retail.events import Actor
from retail.idempotency import request_fingerprint
from retail.tenancy import brand_scope
from tests.factories import CampaignFactory, InventoryFactory, MemberFactory
from tests.helpers.concurrency import race
from tests.helpers.tenancy import refresh

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_shoppers_racing_for_the_last_units(brand, store, sku):
    stock = InventoryFactory(brand=brand, store=store, sku=sku, on_hand=5)
    members = [MemberFactory(brand=brand) for _ in range(16)]

    def buy(i):
        return checkout.checkout(
            brand=brand,
            store=store,
            member=members[i],
            items=[(sku.pk, 1)],
            fulfilment="pickup",
            checkout_key=f"c{i}",
        )

    won, lost = race(16, buy)
    assert len(won) == 5 and len(lost) == 11
    assert all(isinstance(e, ValidationError) and "lines" in e.error_dict for e in lost)
    with brand_scope(brand):
        inv = Inventory.objects.get(pk=stock.pk)
        assert (inv.on_hand, inv.reserved) == (5, 5)
        assert Order.objects.count() == 5


def test_one_coupon_two_checkouts(brand, store, sku, member):
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=50)
    campaign = CampaignFactory(brand=brand)
    coupon = promotions.coupon_issue(
        brand=brand, campaign=campaign, member=member, issued_by=None, actor=Actor()
    )

    def buy(i):
        return checkout.checkout(
            brand=brand,
            store=store,
            member=member,
            items=[(sku.pk, 1)],
            fulfilment="pickup",
            checkout_key=f"c{i}",
            coupon_code=coupon.code,
        )

    won, lost = race(8, buy)
    assert len(won) == 1 and len(lost) == 7
    assert refresh(coupon).status == Coupon.Status.HELD and refresh(coupon).order_id == won[0].pk
    with brand_scope(brand):
        assert Inventory.objects.get(store=store, sku=sku).reserved == 1


def test_one_coupon_two_pos_sales(brand, store_manager, member):
    coupon = promotions.coupon_issue(
        brand=brand, campaign=CampaignFactory(brand=brand), member=member, issued_by=None, actor=Actor()
    )

    def redeem(i):
        return promotions.coupon_redeem_external(
            brand=brand,
            staff=store_manager,
            actor=Actor(),
            code=coupon.code,
            member=member,
            subtotal_fen=50000,
            reference=f"POS-{i}",
        )

    won, lost = race(8, redeem)
    assert len(won) == 1 and len(lost) == 7
    assert refresh(coupon).external_ref == won[0][0].external_ref


def test_concurrent_duplicate_external_order(brand, store, sku, store_manager):
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=50)
    data = {
        "external_id": "POS-1001",
        "store": store.code,
        "lines": [{"sku": sku.code, "quantity": 2, "unit_price_fen": 29900}],
        "payments": [{"method": "cash", "amount_fen": 59800}],
        "status": "completed",
    }

    def push(i):
        return external_orders.order_external_create(
            brand=brand,
            staff=store_manager,
            actor=Actor(),
            channel="pos",
            data=dict(data),
            fingerprint=request_fingerprint(data),
        )

    results, errors = race(10, push)
    assert errors == []
    assert len({o.pk for o, _created in results}) == 1
    assert sum(created for _o, created in results) == 1
    with brand_scope(brand):
        assert Inventory.objects.get(store=store, sku=sku).on_hand == 48


def test_concurrent_duplicate_payment_notices(brand, store, sku, member, sim):
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=3)
    order = checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 1)], fulfilment="pickup", checkout_key="c"
    )
    payment, _ = order_payments.payment_start(brand=brand, order=order)
    sim.settle(payment.reference, "succeeded")
    notice = sim.parse_notice(*sim.signed_notice(payment.reference))
    _results, errors = race(
        8, lambda i: order_payments.payment_notice(brand=brand, provider_name="sim", notice=notice)
    )
    assert errors == []
    assert refresh(payment).notifications == 8 and refresh(payment).status == Payment.Status.SUCCEEDED
    assert refresh(order).status == Order.Status.PAID
    assert refresh(member).points_balance == 299
    with brand_scope(brand):
        assert Inventory.objects.get(store=store, sku=sku).on_hand == 2


def test_concurrent_refunds_never_exceed_paid(brand, store, sku, member, store_manager, sim):
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=3)
    order = checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 1)], fulfilment="pickup", checkout_key="c"
    )
    payment, _ = order_payments.payment_start(brand=brand, order=order)
    sim.settle(payment.reference, "succeeded")
    order_payments.payment_notice(
        brand=brand, provider_name="sim", notice=sim.parse_notice(*sim.signed_notice(payment.reference))
    )

    def refund(i):
        return refunds.refund_create(
            brand=brand,
            staff=store_manager,
            actor=Actor(),
            order=order,
            key=f"r{i}",
            fingerprint=str(i),
            amount_fen=10000,
            restock=False,
            reason="race",
        )

    won, lost = race(6, refund)
    assert len(won) == 2 and len(lost) == 4  # 29,900 paid: two refunds of 10,000 fit, a third does not
    order = refresh(order)
    assert order.refunded_fen == 20000
    with brand_scope(brand):
        assert Refund.objects.filter(order=order).count() == 2


def test_single_and_bulk_issues_keep_the_per_member_limit(brand, brand_admin):
    from members.models import Member

    campaign = CampaignFactory(brand=brand, per_member_limit=1)
    members = [MemberFactory(brand=brand) for _ in range(6)]

    def go(i):
        if i == 0:
            with brand_scope(brand):
                segment = Member.objects.filter(pk__in=[m.pk for m in members])
                return promotions.campaign_issue_to_members(
                    brand=brand, staff=brand_admin, actor=Actor(), campaign=campaign, members=segment
                )
        return promotions.coupon_issue(
            brand=brand, campaign=campaign, member=members[i % 6], issued_by=None, actor=Actor()
        )

    race(12, go)
    with brand_scope(brand):
        per_member = [Coupon.objects.filter(campaign=campaign, member=m).count() for m in members]
    assert per_member == [1] * 6
    assert refresh(campaign).issued_count == 6
