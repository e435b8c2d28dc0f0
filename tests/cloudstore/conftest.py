import pytest

from retail import payments
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
