"""Django admin for platform operators: sees every brand under an audited bypass."""

import pytest

from retail.models import AuditLog, Brand
from retail.tenancy import rls_bypass

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser("operator", password="x-Strong-1", phone="13000000000")


def test_operator_sees_every_brands_stores_and_is_audited(client, operator, store, other_store):
    client.force_login(operator)
    resp = client.get("/admin/retail/store/")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert store.name in body and other_store.name in body
    with rls_bypass(reason="check"):
        entry = AuditLog.objects.filter(action="platform.rls_bypass", actor=operator).first()
    assert entry is not None and "/admin/retail/store/" in entry.data["reason"]


def test_operator_suspends_a_brand_from_admin(client, operator, brand, guide):
    client.force_login(operator)
    resp = client.post(
        "/admin/retail/brand/", {"action": "suspend", "_selected_action": [brand.pk]}, follow=True
    )
    assert resp.status_code == 200
    brand.refresh_from_db()
    assert brand.status == Brand.Status.SUSPENDED
    with rls_bypass(reason="check"):
        assert AuditLog.objects.filter(action="brand.status_changed", brand=brand).exists()


def test_brand_staff_cannot_open_admin(client, brand_admin):
    from tests.helpers.auth import login_as

    login_as(client, brand_admin)
    resp = client.get("/admin/retail/store/")
    assert resp.status_code == 302 and "/admin/login/" in resp["Location"]
