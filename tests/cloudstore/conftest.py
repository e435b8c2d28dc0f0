import pytest

from cloudstore import payments
from cloudstore.services import order_payments
from retail.tenancy import brand_scope
from tests.factories import InventoryFactory, MemberFactory, ProductFactory, SkuFactory


@pytest.fixture
def product(brand):
    return ProductFactory(brand=brand, name="玻尿酸精华")


@pytest.fixture
def sku(brand, product):
    return SkuFactory(brand=brand, product=product, code="HA-50", spec="50ml", list_price_fen=29900)


@pytest.fixture
def stock(brand, store, sku):
    return InventoryFactory(brand=brand, store=store, sku=sku, on_hand=10)


@pytest.fixture
def member(brand):
    return MemberFactory(brand=brand, name="李娜")


@pytest.fixture
def sim():
    return payments.provider("sim")


def refresh(obj):
    with brand_scope(obj.brand_id):
        obj.refresh_from_db()
    return obj


def pay(brand, order, outcome="succeeded"):
    """Pay an order through the simulated provider and deliver its notice."""
    payment, _url = order_payments.payment_start(brand=brand, order=order)
    sim = payments.provider("sim")
    sim.settle(payment.reference, outcome)
    body, sig = sim.signed_notice(payment.reference)
    return order_payments.payment_notice(brand=brand, provider_name="sim", notice=sim.parse_notice(body, sig))
