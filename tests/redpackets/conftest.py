import pytest

from redpackets import payouts
from retail.models import Staff
from tests.factories import StaffFactory
from tests.helpers.packets import top_up


@pytest.fixture
def payout_sim():
    sim = payouts.provider("sim")
    sim.chaos(None)
    yield sim
    sim.chaos(None)


@pytest.fixture
def funded(brand, brand_admin):
    """A pool holding ¥10,000."""
    top_up(brand, brand_admin, 1_000_000)
    return brand


@pytest.fixture
def guides(brand, store):
    return [
        StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name=f"导购{i}") for i in range(5)
    ]
