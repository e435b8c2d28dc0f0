import pytest

from tests.factories import MemberFactory


@pytest.fixture
def member(brand):
    return MemberFactory(brand=brand, name="张三", phone="13711112222")


@pytest.fixture
def other_member(other_brand):
    return MemberFactory(brand=other_brand, name="别家会员", phone="13711112222")
