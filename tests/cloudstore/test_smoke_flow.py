from cloudstore.models import Inventory, Order
from cloudstore.services import orders
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.cloudstore.conftest import pay, refresh


def test_checkout_pay_refund(brand, store, stock, member, sku, store_manager):
    order = orders.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 2)], fulfilment="pickup", checkout_key="k1"
    )
    assert order.total_fen == 59800
    with brand_scope(brand):
        assert Inventory.objects.get(pk=stock.pk).reserved == 2
    pay(brand, order)
    order = refresh(order)
    assert order.status == Order.Status.PAID and order.pickup_code
    assert refresh(member).points_balance == 598
    with brand_scope(brand):
        line = order.lines.get()
    refund, replay = orders.refund_create(
        brand=brand,
        staff=store_manager,
        actor=Actor.system(),
        order=order,
        key="r1",
        fingerprint="f",
        lines=[{"line": line.pk, "quantity": 1}],
        reason="破损",
    )
    assert refund.amount_fen == 29900
    assert refresh(member).points_balance == 299
    with brand_scope(brand):
        inv = Inventory.objects.get(pk=stock.pk)
    assert (inv.on_hand, inv.reserved) == (9, 0)
