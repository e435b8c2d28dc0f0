import pytest

from retail.models import Staff
from tests.factories import CategoryFactory, ProductFactory, SkuFactory, StaffFactory
from tests.helpers.commission import on_the_books


@pytest.fixture
def category(brand):
    return CategoryFactory(brand=brand, name="护肤")


@pytest.fixture
def sku(brand, category):
    product = ProductFactory(brand=brand, name="玻尿酸精华", category=category)
    return SkuFactory(brand=brand, product=product, code="HA-50", spec="50ml", list_price_fen=29900)


@pytest.fixture
def sku2(brand):
    product = ProductFactory(brand=brand, name="保湿面霜")
    return SkuFactory(brand=brand, product=product, code="CR-30", spec="30g", list_price_fen=19900)


@pytest.fixture
def guide(guide):
    return on_the_books(guide)


@pytest.fixture
def guide2(brand, store):
    return on_the_books(StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="赵敏"))


@pytest.fixture
def online_store(brand):
    from tests.factories import StoreFactory

    return StoreFactory(brand=brand, code="SH002", name="静安寺店")
