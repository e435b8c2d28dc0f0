"""Cloud-store checkout, payment notices, timeouts, pickups, refunds and the events they emit."""

import datetime

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import TestCase
from django.utils import timezone

from cloudstore.models import Coupon, Inventory, Order, OrderEvent, Payment, StockMovement
from cloudstore.services import checkout, order_payments, order_status, promotions, refunds
from members import services as member_services
from members.models import PointsEntry
from retail import payments
from retail.events import Actor
from retail.idempotency import request_fingerprint
from retail.tenancy import brand_scope
from tests.factories import CampaignFactory, InventoryFactory, MemberFactory, SkuFactory, StaffFactory
from tests.helpers.shop import pay
from tests.helpers.tenancy import refresh


def _inv(brand, pk):
    with brand_scope(brand):
        return Inventory.objects.get(pk=pk)


def _checkout(brand, store, member, items, key="k1", **kw):
    kw.setdefault("fulfilment", "pickup")
    return checkout.checkout(brand=brand, store=store, member=member, items=items, checkout_key=key, **kw)


def _codes(exc: ValidationError) -> set[str]:
    if hasattr(exc, "error_dict"):
        return {e.code for errs in exc.error_dict.values() for e in errs}
    return {e.code for e in exc.error_list}


def test_checkout_reserves_and_payment_commits(brand, store, stock, member, sku):
    order = _checkout(brand, store, member, [(sku.pk, 2)])
    assert (order.subtotal_fen, order.discount_fen, order.shipping_fen, order.total_fen) == (
        59800,
        0,
        0,
        59800,
    )
    assert order.status == Order.Status.CREATED and order.reserved_until > timezone.now()
    inv = _inv(brand, stock.pk)
    assert (inv.on_hand, inv.reserved, inv.available) == (10, 2, 8)
    pay(brand, order)
    order = refresh(order)
    assert order.status == Order.Status.PAID and order.paid_fen == 59800 and len(order.pickup_code) == 6
    inv = _inv(brand, stock.pk)
    assert (inv.on_hand, inv.reserved) == (8, 0)
    with brand_scope(brand):
        kinds = list(StockMovement.objects.filter(order=order).order_by("id").values_list("kind", flat=True))
        statuses = list(order.events.filter(kind="status").values_list("to_status", flat=True))
    assert kinds == ["reserve", "sale"]
    assert statuses == ["created", "paid"]


def test_store_price_overrides_brand_price_and_shipping_fee(brand, store, stock, member, sku):
    with brand_scope(brand):
        Inventory.objects.filter(pk=stock.pk).update(price_fen=4500)
    order = _checkout(
        brand,
        store,
        member,
        [(sku.pk, 1)],
        fulfilment="ship",
        recipient="李娜",
        phone="13800000000",
        address="上海",
    )
    assert (order.subtotal_fen, order.shipping_fen, order.total_fen) == (4500, 1000, 5500)
    order2 = _checkout(
        brand,
        store,
        member,
        [(sku.pk, 3)],
        key="k2",
        fulfilment="ship",
        recipient="李娜",
        phone="1",
        address="x",
    )
    assert order2.shipping_fen == 0  # free from ¥99


def test_ship_needs_an_address(brand, store, stock, member, sku):
    with pytest.raises(ValidationError) as exc:
        _checkout(brand, store, member, [(sku.pk, 1)], fulfilment="ship")
    assert set(exc.value.error_dict) == {"recipient", "phone", "address"}
    with brand_scope(brand):
        assert not Order.objects.exists()


def test_same_checkout_key_is_one_order(brand, store, stock, member, sku):
    a = _checkout(brand, store, member, [(sku.pk, 1)])
    b = _checkout(brand, store, member, [(sku.pk, 1)])
    assert a.pk == b.pk
    assert _inv(brand, stock.pk).reserved == 1


def test_out_of_stock_writes_nothing(brand, store, stock, member, sku):
    other = SkuFactory(brand=brand, code="B-1")
    InventoryFactory(brand=brand, store=store, sku=other, on_hand=5)
    with pytest.raises(ValidationError) as exc:
        _checkout(brand, store, member, [(other.pk, 1), (sku.pk, 11)])
    assert _codes(exc.value) == {"out_of_stock"}
    with brand_scope(brand):
        assert not Order.objects.exists()
        assert Inventory.objects.filter(reserved__gt=0).count() == 0


@pytest.mark.parametrize("items", [[], [(1, 0)], [(1, 100)], [("x", 1)]])
def test_bad_carts_refused(brand, store, stock, member, items):
    with pytest.raises(ValidationError):
        _checkout(brand, store, member, items)


def test_other_brands_sku_is_not_sold_here(brand, other_brand, store, stock, member):
    foreign = InventoryFactory(brand=other_brand, on_hand=5)
    with pytest.raises(ValidationError) as exc:
        _checkout(brand, store, member, [(foreign.sku_id, 1)])
    assert _codes(exc.value) == {"not_sold_here"}


def test_unlisted_or_archived_not_sold(brand, store, stock, member, sku):
    with brand_scope(brand):
        Inventory.objects.filter(pk=stock.pk).update(listed=False)
    with pytest.raises(ValidationError):
        _checkout(brand, store, member, [(sku.pk, 1)])


def test_timeout_releases_stock_and_coupon(brand, store, stock, member, sku):
    campaign = CampaignFactory(brand=brand, amount_off_fen=5000, threshold_fen=10000)
    coupon = promotions.coupon_issue(
        brand=brand, campaign=campaign, member=member, issued_by=None, actor=Actor()
    )
    order = _checkout(brand, store, member, [(sku.pk, 1)], coupon_code=coupon.code)
    assert order.discount_fen == 5000 and order.total_fen == 24900
    assert refresh(coupon).status == Coupon.Status.HELD
    assert checkout.orders_expire(brand=brand, now=timezone.now()) == 0
    later = timezone.now() + datetime.timedelta(minutes=checkout.RESERVATION_MINUTES + 1)
    assert checkout.orders_expire(brand=brand, now=later) == 1
    assert refresh(order).status == Order.Status.CANCELLED
    assert _inv(brand, stock.pk).reserved == 0
    assert refresh(coupon).status == Coupon.Status.ISSUED
    assert checkout.orders_expire(brand=brand, now=later) == 0  # once


def test_cancel_by_shopper_staff(brand, store, stock, member, sku, guide):
    order = _checkout(brand, store, member, [(sku.pk, 2)])
    checkout.order_cancel(brand=brand, order=order, actor=Actor(), reason="changed mind")
    assert _inv(brand, stock.pk).reserved == 0
    checkout.order_cancel(brand=brand, order=order, actor=Actor(), reason="again")  # idempotent
    assert _inv(brand, stock.pk).reserved == 0


def test_duplicate_notice_applies_once(brand, store, stock, member, sku, sim):
    order = _checkout(brand, store, member, [(sku.pk, 1)])
    payment, url = order_payments.payment_start(brand=brand, order=order)
    assert url.startswith(f"/pay/sim/{brand.slug}/{payment.reference}/?t=")
    sim.settle(payment.reference, "succeeded")
    notice = sim.parse_notice(*sim.signed_notice(payment.reference))
    for _ in range(3):
        order_payments.payment_notice(brand=brand, provider_name="sim", notice=notice)
    payment = refresh(payment)
    assert payment.status == Payment.Status.SUCCEEDED and payment.notifications == 3
    assert _inv(brand, stock.pk).on_hand == 9
    with brand_scope(brand):
        assert PointsEntry.objects.filter(member=member).count() == 1
        assert OrderEvent.objects.filter(order=order, kind="status", to_status="paid").count() == 1
    assert refresh(member).points_balance == 299


def test_failed_payment_then_retry(brand, store, stock, member, sku):
    order = _checkout(brand, store, member, [(sku.pk, 1)])
    failed = pay(brand, order, "failed")
    assert failed.status == Payment.Status.FAILED and refresh(order).status == Order.Status.CREATED
    ok = pay(brand, order)
    assert ok.status == Payment.Status.SUCCEEDED and refresh(order).status == Order.Status.PAID


def test_notice_amount_mismatch_refused(brand, store, stock, member, sku):
    order = _checkout(brand, store, member, [(sku.pk, 1)])
    payment, _ = order_payments.payment_start(brand=brand, order=order)
    forged = payments.Notice(brand.pk, payment.reference, "succeeded", 1)
    with pytest.raises(ValidationError) as exc:
        order_payments.payment_notice(brand=brand, provider_name="sim", notice=forged)
    assert _codes(exc.value) == {"amount_mismatch"}
    assert refresh(order).status == Order.Status.CREATED


def test_bad_signature_refused(sim):
    body, _sig = b'{"brand_id": 1, "reference": "x", "status": "succeeded", "amount_fen": 1}', ""
    with pytest.raises(payments.SignatureError):
        sim.parse_notice(body, "0" * 64)


def test_late_payment_revives_order_when_stock_is_there(brand, store, stock, member, sku, sim):
    order = _checkout(brand, store, member, [(sku.pk, 1)])
    payment, _ = order_payments.payment_start(brand=brand, order=order)
    sim.settle(payment.reference, "succeeded")  # paid, notice held back
    later = timezone.now() + datetime.timedelta(minutes=30)
    checkout.orders_expire(brand=brand, now=later)
    assert refresh(order).status == Order.Status.CANCELLED
    assert order_payments.payments_poll(brand=brand, older_than_seconds=0) == 1
    order = refresh(order)
    assert order.status == Order.Status.PAID
    assert _inv(brand, stock.pk).on_hand == 9


def test_late_payment_after_stock_sold_is_returned(brand, store, sku, member, sim):
    stock = InventoryFactory(brand=brand, store=store, sku=sku, on_hand=1)
    first = _checkout(brand, store, member, [(sku.pk, 1)])
    payment, _ = order_payments.payment_start(brand=brand, order=first)
    sim.settle(payment.reference, "succeeded")
    checkout.orders_expire(brand=brand, now=timezone.now() + datetime.timedelta(minutes=30))
    other = MemberFactory(brand=brand)
    second = _checkout(brand, store, other, [(sku.pk, 1)], key="k2")
    pay(brand, second)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the return is sent after the commit
        order_payments.payments_poll(brand=brand, older_than_seconds=0)
    assert refresh(first).status == Order.Status.CANCELLED
    assert refresh(payment).status == Payment.Status.REFUNDED
    assert sim.record(payment.reference)["refunded_fen"] == payment.amount_fen
    inv = _inv(brand, stock.pk)
    assert (inv.on_hand, inv.reserved) == (0, 0)


def test_second_payment_of_a_paid_order_is_returned(brand, store, stock, member, sku, sim):
    order = _checkout(brand, store, member, [(sku.pk, 1)])
    p1, _ = order_payments.payment_start(brand=brand, order=order)
    p2, _ = order_payments.payment_start(brand=brand, order=order)
    for p in (p1, p2):
        sim.settle(p.reference, "succeeded")
        order_payments.payment_notice(
            brand=brand, provider_name="sim", notice=sim.parse_notice(*sim.signed_notice(p.reference))
        )
    assert refresh(p1).status == Payment.Status.SUCCEEDED
    assert refresh(p2).status == Payment.Status.REFUNDED
    assert refresh(order).paid_fen == order.total_fen and _inv(brand, stock.pk).on_hand == 9


def test_pickup_confirm_by_code_and_qr(brand, store, stock, member, sku, guide, other_store):
    a = _checkout(brand, store, member, [(sku.pk, 1)])
    b = _checkout(brand, store, member, [(sku.pk, 1)], key="k2")
    pay(brand, a)
    pay(brand, b)
    a, b = refresh(a), refresh(b)
    got = order_status.pickup_confirm(
        brand=brand, staff=guide, actor=Actor(), store=store, code=a.pickup_code
    )
    assert got.pk == a.pk and refresh(a).status == Order.Status.PICKED_UP
    got = order_status.pickup_confirm(
        brand=brand, staff=guide, actor=Actor(), store=store, code=order_status.pickup_token(b)
    )
    assert got.pk == b.pk
    with pytest.raises(ValidationError):  # already picked up
        order_status.pickup_confirm(brand=brand, staff=guide, actor=Actor(), store=store, code=a.pickup_code)
    with pytest.raises(ValidationError):
        order_status.pickup_confirm(brand=brand, staff=guide, actor=Actor(), store=store, code="forged.token")


def test_pickup_needs_staff_of_the_store(brand, store, stock, member, sku):
    order = _checkout(brand, store, member, [(sku.pk, 1)])
    pay(brand, order)
    outsider = StaffFactory(brand=brand, role="guide")
    with pytest.raises(PermissionDenied):
        order_status.pickup_confirm(
            brand=brand, staff=outsider, actor=Actor(), store=store, code=refresh(order).pickup_code
        )


def test_status_flow_refuses_jumps(brand, store, stock, member, sku, store_manager):
    order = _checkout(
        brand, store, member, [(sku.pk, 1)], fulfilment="ship", recipient="a", phone="1", address="b"
    )
    with pytest.raises(ValidationError):  # not paid yet
        order_status.order_advance(
            brand=brand, staff=store_manager, actor=Actor(), order=order, to="fulfilled"
        )
    pay(brand, order)
    with pytest.raises(ValidationError):  # a delivery is not picked up
        order_status.order_advance(
            brand=brand, staff=store_manager, actor=Actor(), order=order, to="picked_up"
        )
    order_status.order_advance(brand=brand, staff=store_manager, actor=Actor(), order=order, to="fulfilled")
    order_status.order_advance(brand=brand, staff=store_manager, actor=Actor(), order=order, to="completed")
    with brand_scope(brand):
        assert list(order.events.filter(kind="status").values_list("to_status", flat=True)) == [
            "created",
            "paid",
            "fulfilled",
            "completed",
        ]


def _paid(brand, store, member, items, key="k1"):
    order = _checkout(brand, store, member, items, key=key)
    pay(brand, order)
    return refresh(order)


def _refund(brand, staff, order, key="r1", **kw):
    kw.setdefault("reason", "客户退货")
    # The provider is called once the refund is committed (here: the callbacks run at the end).
    with TestCase.captureOnCommitCallbacks(execute=True):
        return refunds.refund_create(
            brand=brand,
            staff=staff,
            actor=Actor(),
            order=order,
            key=key,
            fingerprint=request_fingerprint({"k": key, **{k: str(v) for k, v in kw.items()}}),
            **kw,
        )


def test_partial_then_full_refund(brand, store, stock, member, sku, store_manager, sim):
    order = _paid(brand, store, member, [(sku.pk, 3)])
    assert refresh(member).points_balance == 897
    with brand_scope(brand):
        line = order.lines.get()
    refund, replayed = _refund(brand, store_manager, order, lines=[{"line": line.pk, "quantity": 1}])
    assert not replayed and refund.amount_fen == 29900 and refund.restock
    order = refresh(order)
    assert order.status == Order.Status.PAID and order.refunded_fen == 29900
    assert refresh(member).points_balance == 598
    assert _inv(brand, stock.pk).on_hand == 8
    again, replayed = _refund(brand, store_manager, order, lines=[{"line": line.pk, "quantity": 1}])
    assert replayed and again.pk == refund.pk and refresh(order).refunded_fen == 29900
    _refund(brand, store_manager, order, key="r2", lines=[{"line": line.pk, "quantity": 2}])
    order = refresh(order)
    assert order.status == Order.Status.REFUNDED and order.refunded_fen == order.paid_fen
    assert refresh(member).points_balance == 0 and refresh(member).qualifying_spend_fen == 0
    assert _inv(brand, stock.pk).on_hand == 10
    with brand_scope(brand):
        refs = [p.reference for p in order.payments.all()]
    assert sum(sim.record(r)["refunded_fen"] for r in refs) == 89700


def test_refund_beyond_paid_is_refused(brand, store, stock, member, sku, store_manager):
    order = _paid(brand, store, member, [(sku.pk, 1)])
    with pytest.raises(ValidationError) as exc:
        _refund(brand, store_manager, order, amount_fen=order.paid_fen + 1)
    assert _codes(exc.value) == {"refund_exceeds_paid"}
    _refund(brand, store_manager, order, amount_fen=20000, restock=False)
    with pytest.raises(ValidationError) as exc:
        _refund(brand, store_manager, order, key="r2", amount_fen=10000)
    assert _codes(exc.value) == {"refund_exceeds_paid"}
    with brand_scope(brand):
        line = order.lines.get()
    with pytest.raises(ValidationError) as exc:
        _refund(brand, store_manager, order, key="r3", lines=[{"line": line.pk, "quantity": 2}])
    assert _codes(exc.value) == {"refund_exceeds_quantity"}
    assert refresh(order).refunded_fen == 20000


def test_refund_key_reused_for_another_request_is_a_conflict(brand, store, stock, member, sku, store_manager):
    order = _paid(brand, store, member, [(sku.pk, 2)])
    _refund(brand, store_manager, order, amount_fen=100)
    with pytest.raises(ValidationError) as exc:
        _refund(brand, store_manager, order, amount_fen=200)
    assert _codes(exc.value) == {"idempotency_conflict"}


def test_unpaid_order_cannot_be_refunded(brand, store, stock, member, sku, store_manager):
    order = _checkout(brand, store, member, [(sku.pk, 1)])
    with pytest.raises(ValidationError):
        _refund(brand, store_manager, order, amount_fen=1)


def test_guide_cannot_refund(brand, store, stock, member, sku, guide):
    order = _paid(brand, store, member, [(sku.pk, 1)])
    with pytest.raises(PermissionDenied):
        _refund(brand, guide, order, amount_fen=1)


def test_discount_is_shared_over_lines_and_refunds_add_up(brand, store, member, store_manager):
    a = InventoryFactory(
        brand=brand, store=store, sku=SkuFactory(brand=brand, list_price_fen=3333), on_hand=9
    )
    b = InventoryFactory(
        brand=brand, store=store, sku=SkuFactory(brand=brand, list_price_fen=6667), on_hand=9
    )
    campaign = CampaignFactory(
        brand=brand, kind="percent_off", amount_off_fen=0, percent_off=15, threshold_fen=0
    )
    coupon = promotions.coupon_issue(
        brand=brand, campaign=campaign, member=member, issued_by=None, actor=Actor()
    )
    order = _checkout(brand, store, member, [(a.sku_id, 3), (b.sku_id, 1)], coupon_code=coupon.code)
    pay(brand, order)
    order = refresh(order)
    assert order.discount_fen == (3333 * 3 + 6667) * 15 // 100
    with brand_scope(brand):
        lines = list(order.lines.all())
    assert sum(line.discount_fen for line in lines) == order.discount_fen
    total = 0
    for i, line in enumerate(lines):
        for q in range(line.quantity):
            r, _ = _refund(
                brand, store_manager, order, key=f"r{i}-{q}", lines=[{"line": line.pk, "quantity": 1}]
            )
            total += r.amount_fen
    order = refresh(order)
    assert total == order.paid_fen == order.refunded_fen and order.status == Order.Status.REFUNDED
    assert refresh(coupon).status == Coupon.Status.USED


def test_points_once_per_order_and_reverse_when_spent(brand, store, stock, member, sku, store_manager):
    order = _paid(brand, store, member, [(sku.pk, 1)])
    member_services.points_redeem(brand=brand, member=member, points=200, source="spend")
    _refund(brand, store_manager, order, amount_fen=order.paid_fen)
    m = refresh(member)
    assert m.points_balance == 0  # 99 left were taken back; the 200 spent cannot be
    assert refresh(order).points_reversed == 299


def test_events_reach_subscribers_after_commit(
    brand, store, stock, member, sku, store_manager, monkeypatch, django_capture_on_commit_callbacks
):
    seen = []

    def paid(*, brand_id, name, payload):
        seen.append(("paid", payload["order_id"]))

    def refunded(*, brand_id, name, payload):
        seen.append(("refunded", payload["order_id"], payload["amount_fen"]))

    monkeypatch.setitem(settings.OUTBOX_SUBSCRIBERS, "order.paid", [paid])
    monkeypatch.setitem(settings.OUTBOX_SUBSCRIBERS, "order.refunded", [refunded])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order = _paid(brand, store, member, [(sku.pk, 1)])
        assert seen == []  # queued for the commit, not run inside the transaction
    assert ("paid", order.pk) in seen and callbacks
    with django_capture_on_commit_callbacks(execute=True):
        _refund(brand, store_manager, order, amount_fen=100)
    assert ("refunded", order.pk, 100) in seen


def test_orders_follow_a_member_merge_and_undo(brand, store, stock, sku, brand_admin):
    a, b = MemberFactory(brand=brand), MemberFactory(brand=brand)
    order = _paid(brand, store, b, [(sku.pk, 1)])
    record = member_services.members_merge(
        brand=brand, survivor=a, absorbed=b, actor=Actor(), reason="same phone"
    )
    assert refresh(order).member_id == a.pk
    member_services.merge_undo(brand=brand, manager=brand_admin, actor=Actor(), record=record)
    assert refresh(order).member_id == b.pk


def test_minutely_task_cancels_expired_orders_of_every_brand(brand, store, stock, member, sku):
    from cloudstore import tasks

    order = _checkout(brand, store, member, [(sku.pk, 3)])
    with brand_scope(brand):
        Order.objects.filter(pk=order.pk).update(
            reserved_until=timezone.now() - datetime.timedelta(seconds=1)
        )
    tasks.minutely()
    assert refresh(order).status == Order.Status.CANCELLED
    assert _inv(brand, stock.pk).reserved == 0
