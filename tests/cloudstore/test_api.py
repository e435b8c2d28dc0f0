"""Cloud-store REST API: catalogue, inventory (bulk), external orders (idempotent), status,
refunds with Idempotency-Key, coupons; roles, other brands, bad input."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cloudstore.models import Coupon, Inventory, Order, Product, Sku
from cloudstore.services import checkout, external_orders, promotions
from members import codes
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.factories import CampaignFactory, InventoryFactory, MemberFactory, ProductFactory, SkuFactory
from tests.helpers.api import api_error, send_json
from tests.helpers.auth import login_as
from tests.helpers.shop import pay
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_manager(client, store_manager):
    return login_as(client, store_manager)


def pos_order(store, sku, external_id="POS-1", **extra):
    return {
        "channel": "pos",
        "external_id": external_id,
        "store": store.code,
        "lines": [{"sku": sku.code, "quantity": 2, "unit_price_fen": 29900}],
        "payments": [{"method": "card", "amount_fen": 59800, "reference": "TXN-9"}],
        "status": "completed",
        **extra,
    }


# --- catalogue ---------------------------------------------------------------------------------


def test_product_and_sku_crud(as_admin, brand):
    resp = send_json(as_admin, "/api/v1/products/", {"name": "玻尿酸精华", "description": "补水"})
    assert resp.status_code == 201, resp.content
    pid = resp.json()["id"]
    resp = send_json(
        as_admin,
        "/api/v1/skus/",
        {"product_id": pid, "code": "HA-30", "spec": "30ml", "list_price_fen": 19900},
    )
    assert resp.status_code == 201, resp.content
    resp = as_admin.patch(
        f"/api/v1/skus/{resp.json()['id']}/", {"list_price_fen": 18900}, content_type="application/json"
    )
    assert resp.json()["list_price_fen"] == 18900
    body = as_admin.get(f"/api/v1/products/{pid}/").json()
    assert body["skus"][0]["code"] == "HA-30" and body["skus"][0]["list_price_fen"] == 18900


def test_product_list_constant_queries(as_admin, brand):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert as_admin.get("/api/v1/products/").status_code == 200
        return len(ctx)

    for _ in range(3):
        SkuFactory(brand=brand)
    few = count()
    for _ in range(20):
        SkuFactory(brand=brand)
    assert count() == few


@pytest.mark.parametrize(
    "body",
    [
        {"product_id": 1, "code": "bad code!", "list_price_fen": 1},
        {"code": "X", "list_price_fen": -5},
        {"code": "X", "list_price_fen": "abc"},
        [1, 2],
    ],
)
def test_bad_sku_input(as_admin, brand, product, body):
    if isinstance(body, dict):
        body["product_id"] = product.pk
    api_error(send_json(as_admin, "/api/v1/skus/", body), 400)
    with brand_scope(brand):
        assert not Sku.objects.exists()


def test_guide_cannot_write_catalogue(client, guide):
    login_as(client, guide)
    api_error(send_json(client, "/api/v1/products/", {"name": "x"}), 403)


def test_other_brands_product_is_404(as_admin, other_brand):
    foreign = ProductFactory(brand=other_brand)
    api_error(as_admin.get(f"/api/v1/products/{foreign.pk}/"), 404)
    api_error(
        as_admin.patch(f"/api/v1/products/{foreign.pk}/", {"name": "x"}, content_type="application/json"), 404
    )
    api_error(
        send_json(as_admin, "/api/v1/skus/", {"product_id": foreign.pk, "code": "X", "list_price_fen": 1}),
        404,
    )
    assert refresh(foreign).name != "x"


def test_malformed_json(as_admin):
    resp = as_admin.post("/api/v1/products/", "{not json", content_type="application/json")
    api_error(resp, 400)


# --- inventory ---------------------------------------------------------------------------------


def test_inventory_read_and_bulk(as_manager, brand, store, sku, stock):
    other = SkuFactory(brand=brand, code="NEW-1")
    body = {
        "reason": "ERP sync",
        "rows": [
            {"store": store.code, "sku": sku.code, "on_hand": 3},
            {"store": store.code, "sku": other.code, "on_hand": 8, "price_fen": 100, "low_stock_at": 1},
        ],
    }
    resp = send_json(as_manager, "/api/v1/inventory/bulk/", body)
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"rows": 2, "created": 1, "updated": 1}
    rows = as_manager.get(f"/api/v1/inventory/?store={store.code}").json()["results"]
    by_sku = {r["sku"]: r for r in rows}
    assert by_sku[sku.code]["on_hand"] == 3 and by_sku[sku.code]["low"] is True
    assert by_sku[other.code]["effective_price_fen"] == 100


@pytest.mark.parametrize(
    "rows",
    [
        "nope",
        [{"store": "SH001", "sku": "HA-50"}],
        [{"store": "SH001", "sku": "HA-50", "on_hand": -1}],
        [{"store": "SH001", "sku": "HA-50", "on_hand": 1.5}],
        [{"store": "SH001", "sku": "HA-50", "on_hand": 1, "extra": 1}],
        [{"store": 1, "sku": "HA-50", "on_hand": 1}],
        [{"store": "SH001", "sku": "NOPE", "on_hand": 1}],
    ],
)
def test_bulk_bad_rows_write_nothing(as_admin, brand, store, sku, stock, rows):
    resp = send_json(as_admin, "/api/v1/inventory/bulk/", {"rows": rows})
    api_error(resp, 400)
    with brand_scope(brand):
        assert Inventory.objects.get(pk=stock.pk).on_hand == 10


def test_bulk_too_many_rows(as_admin, store, sku):
    rows = [{"store": store.code, "sku": sku.code, "on_hand": 1}] * 50_001
    api_error(send_json(as_admin, "/api/v1/inventory/bulk/", {"rows": rows}), 400)


def test_inventory_of_other_brand_store_is_404(as_admin, other_store):
    api_error(as_admin.get(f"/api/v1/inventory/?store={other_store.code}"), 404)


def test_guide_cannot_bulk_update(client, guide, store, sku, stock):
    login_as(client, guide)
    api_error(
        send_json(
            client,
            "/api/v1/inventory/bulk/",
            {"rows": [{"store": store.code, "sku": sku.code, "on_hand": 1}]},
        ),
        403,
    )


# --- orders ------------------------------------------------------------------------------------


def test_pos_order_is_idempotent_on_external_id(as_manager, brand, store, sku, stock):
    member = MemberFactory(brand=brand, phone="13812345678")
    body = pos_order(store, sku, member={"kind": "phone", "value": "+86 138 1234 5678"})
    first = send_json(as_manager, "/api/v1/orders/", body)
    assert first.status_code == 201, first.content
    order = first.json()
    assert (
        order["status"] == "completed" and order["member"]["id"] == member.pk and order["total_fen"] == 59800
    )
    assert order["points_earned"] == 598
    again = send_json(as_manager, "/api/v1/orders/", body)
    assert (
        again.status_code == 200
        and again["Idempotent-Replayed"] == "true"
        and again.json()["id"] == order["id"]
    )
    changed = dict(
        body,
        lines=[{"sku": sku.code, "quantity": 1, "unit_price_fen": 29900}],
        payments=[{"amount_fen": 29900}],
    )
    api_error(send_json(as_manager, "/api/v1/orders/", changed), 409, "idempotency_conflict")
    with brand_scope(brand):
        assert Order.objects.count() == 1
        assert Inventory.objects.get(pk=stock.pk).on_hand == 8
    assert refresh(member).points_balance == 598


def test_flagship_order_by_member_code_credits_nothing_in_store_stock(
    as_admin, brand, store, sku, stock, member
):
    code = codes.member_code_issue(brand_id=brand.pk, member_id=member.pk)
    body = {
        "channel": "flagship",
        "external_id": "TM-778",
        "member": {"member_code": code},
        "lines": [{"sku": sku.code, "quantity": 1, "unit_price_fen": 25000}],
        "payments": [{"method": "alipay", "amount_fen": 25000}],
        "status": "paid",
    }
    resp = send_json(as_admin, "/api/v1/orders/", body)
    assert resp.status_code == 201, resp.content
    assert resp.json()["member"]["id"] == member.pk and resp.json()["store"] is None
    with brand_scope(brand):
        assert Inventory.objects.get(pk=stock.pk).on_hand == 10


def test_external_order_bad_input(as_manager, brand, store, sku, other_brand, stock):
    foreign = SkuFactory(brand=other_brand, code="FOREIGN")
    cases = [
        (dict(pos_order(store, foreign)), "unknown_sku"),
        (dict(pos_order(store, sku), payments=[{"amount_fen": 1}]), "payments_mismatch"),
        (dict(pos_order(store, sku), store="NOPE"), "unknown_store"),
        (dict(pos_order(store, sku), channel="cloud_store"), None),
        (dict(pos_order(store, sku), lines=[]), None),
        (dict(pos_order(store, sku), discount_fen=10**9), "bad_amount"),
        (dict(pos_order(store, sku), member={"member_code": "forged-code-123"}), "invalid_member_code"),
    ]
    for body, code in cases:
        api_error(send_json(as_manager, "/api/v1/orders/", body), 400, code)
    with brand_scope(brand):
        assert not Order.objects.exists()


def test_unpaid_external_order_then_paid(as_admin, brand, store, sku, stock):
    body = pos_order(store, sku, status="created", payments=[])
    oid = send_json(as_admin, "/api/v1/orders/", body).json()["id"]
    api_error(
        send_json(
            as_admin, f"/api/v1/orders/{oid}/status/", {"status": "paid", "payments": [{"amount_fen": 5}]}
        ),
        400,
        "payments_mismatch",
    )
    resp = send_json(
        as_admin, f"/api/v1/orders/{oid}/status/", {"status": "paid", "payments": [{"amount_fen": 59800}]}
    )
    assert resp.json()["status"] == "paid"
    resp = send_json(as_admin, f"/api/v1/orders/{oid}/status/", {"status": "completed"})
    assert resp.json()["status"] == "completed"
    api_error(
        send_json(as_admin, f"/api/v1/orders/{oid}/status/", {"status": "cancelled"}),
        400,
        "invalid_transition",
    )


def test_refund_through_the_api(as_manager, brand, store, sku, stock, member):
    body = pos_order(store, sku, member={"kind": "phone", "value": f"137{member.pk:08d}"})
    oid = send_json(as_manager, "/api/v1/orders/", body).json()["id"]
    line = as_manager.get(f"/api/v1/orders/{oid}/").json()["lines"][0]["id"]
    url = f"/api/v1/orders/{oid}/refunds/"
    api_error(send_json(as_manager, url, {"amount_fen": 1, "reason": "x"}), 400)  # no Idempotency-Key
    body = {"lines": [{"line": line, "quantity": 1}], "reason": "顾客退货", "restock": True}
    resp = send_json(as_manager, url, body, key="ref-1")
    assert resp.status_code == 201, resp.content
    assert resp.json()["refunded_fen"] == 29900 and resp.json()["points_reversed"] == 299
    assert refresh(member).points_balance == 299
    again = send_json(as_manager, url, body, key="ref-1")
    assert again.status_code == 200 and again.json()["refunded_fen"] == 29900
    api_error(
        send_json(as_manager, url, {"amount_fen": 5, "reason": "x"}, key="ref-1"), 409, "idempotency_conflict"
    )
    api_error(
        send_json(as_manager, url, {"amount_fen": 29901, "reason": "x"}, key="ref-2"),
        400,
        "refund_exceeds_paid",
    )
    with brand_scope(brand):
        assert Inventory.objects.get(pk=stock.pk).on_hand == 9


def test_cloud_store_order_status_only_moves_forward(as_manager, brand, store, sku, stock, member):
    order = checkout.checkout(
        brand=brand,
        store=store,
        member=member,
        items=[(sku.pk, 1)],
        fulfilment="ship",
        checkout_key="k",
        recipient="a",
        phone="1",
        address="b",
    )
    api_error(
        send_json(as_manager, f"/api/v1/orders/{order.pk}/status/", {"status": "paid"}),
        400,
        "invalid_transition",
    )
    pay(brand, order)
    resp = send_json(as_manager, f"/api/v1/orders/{order.pk}/status/", {"status": "fulfilled"})
    assert resp.json()["status"] == "fulfilled"


def test_order_list_filters_roles_and_queries(
    client, brand, store, other_store, sku, stock, guide, store_manager
):
    login_as(client, store_manager)
    for i in range(3):
        send_json(client, "/api/v1/orders/", pos_order(store, sku, external_id=f"P{i}"))

    def count():
        with CaptureQueriesContext(connection) as ctx:
            resp = client.get("/api/v1/orders/?channel=pos")
            assert resp.status_code == 200
        return len(ctx), resp.json()["count"]

    few, n = count()
    for i in range(3, 12):
        send_json(client, "/api/v1/orders/", pos_order(store, sku, external_id=f"P{i}"))
    many, n2 = count()
    assert (n, n2) == (3, 12) and many == few
    api_error(client.get("/api/v1/orders/?status=bogus"), 400)


def test_other_brands_order_is_404(as_admin, other_brand, other_admin, other_store):
    sku = SkuFactory(brand=other_brand)
    InventoryFactory(brand=other_brand, store=other_store, sku=sku)
    order, _ = external_orders.order_external_create(
        brand=other_brand,
        staff=other_admin,
        actor=Actor(),
        channel="pos",
        data={
            "external_id": "X",
            "store": other_store.code,
            "lines": [{"sku": sku.code, "quantity": 1, "unit_price_fen": 100}],
            "payments": [{"amount_fen": 100}],
            "status": "paid",
        },
        fingerprint="f",
    )
    api_error(as_admin.get(f"/api/v1/orders/{order.pk}/"), 404)
    api_error(
        send_json(as_admin, f"/api/v1/orders/{order.pk}/refunds/", {"amount_fen": 1, "reason": "x"}, key="k"),
        404,
    )
    assert refresh(order).refunded_fen == 0


# --- coupons -----------------------------------------------------------------------------------


def test_coupon_validate_issue_and_redeem(as_manager, brand, member):
    campaign = CampaignFactory(brand=brand)
    resp = send_json(as_manager, "/api/v1/coupons/", {"campaign_id": campaign.pk, "member_id": member.pk})
    assert resp.status_code == 201, resp.content
    code = resp.json()["code"]
    ref = {"kind": "phone", "value": f"137{member.pk:08d}"}
    quote = send_json(
        as_manager, "/api/v1/coupons/validate/", {"code": code, "subtotal_fen": 12000, "member": ref}
    )
    assert quote.json()["discount_fen"] == 2000
    api_error(
        send_json(
            as_manager, "/api/v1/coupons/validate/", {"code": code, "subtotal_fen": 100, "member": ref}
        ),
        400,
        "coupon_invalid",
    )
    body = {"code": code, "subtotal_fen": 12000, "member": ref, "reference": "POS-77"}
    assert send_json(as_manager, "/api/v1/coupons/redeem/", body).status_code == 201
    assert send_json(as_manager, "/api/v1/coupons/redeem/", body).status_code == 200
    api_error(
        send_json(as_manager, "/api/v1/coupons/redeem/", dict(body, reference="POS-78")), 400, "coupon_used"
    )


def test_other_brands_campaign_and_coupon(as_admin, brand, other_brand, member):
    foreign_campaign = CampaignFactory(brand=other_brand)
    api_error(
        send_json(as_admin, "/api/v1/coupons/", {"campaign_id": foreign_campaign.pk, "member_id": member.pk}),
        404,
    )
    foreign = promotions.coupon_issue(
        brand=other_brand,
        campaign=foreign_campaign,
        member=MemberFactory(brand=other_brand),
        issued_by=None,
        actor=Actor(),
    )
    api_error(
        send_json(as_admin, "/api/v1/coupons/validate/", {"code": foreign.code, "subtotal_fen": 99999}),
        400,
        "coupon_invalid",
    )
    with brand_scope(other_brand):
        assert Coupon.objects.get(pk=foreign.pk).status == "issued"


def test_schema_lists_cloudstore_endpoints(as_admin):
    schema = as_admin.get("/api/v1/schema/?format=json")
    paths = json.loads(schema.content)["paths"]
    for p in (
        "/api/v1/products/",
        "/api/v1/skus/",
        "/api/v1/inventory/bulk/",
        "/api/v1/orders/",
        "/api/v1/orders/{id}/refunds/",
        "/api/v1/coupons/redeem/",
        "/api/v1/coupons/validate/",
    ):
        assert p in paths


def test_products_stay_in_brand(brand, other_brand):
    ProductFactory(brand=other_brand)
    with brand_scope(brand):
        assert not Product.objects.exists()


# --- campaigns ---------------------------------------------------------------------------------


def test_campaign_create_edit_and_issue_to_a_segment(as_admin, brand, store, guide):
    from members.models import MemberTag, Tag

    body = {
        "name": "会员日",
        "kind": "amount_off",
        "amount_off_fen": 1000,
        "threshold_fen": 5000,
        "per_member_limit": 1,
        "total_limit": 3,
        "starts_at": "2026-01-01T00:00:00+08:00",
        "ends_at": "2030-01-01T00:00:00+08:00",
    }
    resp = send_json(as_admin, "/api/v1/campaigns/", body)
    assert resp.status_code == 201, resp.content
    cid = resp.json()["id"]
    resp = as_admin.patch(f"/api/v1/campaigns/{cid}/", {"name": "会员日2"}, content_type="application/json")
    assert resp.json()["name"] == "会员日2"
    members = [MemberFactory(brand=brand) for _ in range(5)]
    with brand_scope(brand):
        vip = Tag.objects.create(brand=brand, name="VIP")
        for m in members[:4]:
            MemberTag.objects.create(brand=brand, member=m, tag=vip)
    resp = send_json(as_admin, f"/api/v1/campaigns/{cid}/issue/", {"tag": [vip.pk]})
    assert resp.json() == {"issued": 3, "skipped": 1}  # total limit 3
    resp = send_json(as_admin, f"/api/v1/campaigns/{cid}/issue/", {})
    assert resp.json()["issued"] == 0
    with brand_scope(brand):
        assert Coupon.objects.filter(campaign_id=cid).count() == 3
    assert as_admin.get(f"/api/v1/campaigns/{cid}/").json()["issued_count"] == 3


def test_campaign_bad_input_and_roles(as_admin, client, brand, guide, other_brand):
    bad = {
        "name": "x",
        "kind": "percent_off",
        "percent_off": 150,
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2030-01-01T00:00:00Z",
    }
    api_error(send_json(as_admin, "/api/v1/campaigns/", bad), 400)
    api_error(
        send_json(as_admin, "/api/v1/campaigns/", dict(bad, percent_off=10, ends_at="2025-01-01T00:00:00Z")),
        400,
    )
    api_error(send_json(as_admin, "/api/v1/campaigns/", dict(bad, percent_off=10, per_member_limit=0)), 400)
    foreign = CampaignFactory(brand=other_brand)
    api_error(as_admin.get(f"/api/v1/campaigns/{foreign.pk}/"), 404)
    api_error(send_json(as_admin, f"/api/v1/campaigns/{foreign.pk}/issue/", {}), 404)
    assert refresh(foreign).issued_count == 0
    login_as(client, guide)
    assert client.get("/api/v1/campaigns/").status_code == 200
    api_error(send_json(client, "/api/v1/campaigns/", dict(bad, percent_off=10)), 403)


def test_bulk_update_with_csrf_enforced_and_over_the_json_cap(
    brand, store_manager, store, sku, stock, settings
):
    """A real client: session cookie plus CSRF token, and a body larger than the API-wide JSON cap."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    login_as(client, store_manager)
    client.get("/m/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    rows = [{"store": store.code, "sku": sku.code, "on_hand": 7}]
    body = json.dumps({"reason": "x" * 150, "rows": rows, "pad": "y" * 2000})
    resp = client.post(
        "/api/v1/inventory/bulk/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert resp.status_code == 200, resp.content
    with brand_scope(brand):
        assert Inventory.objects.get(pk=stock.pk).on_hand == 7
    no_token = client.post("/api/v1/inventory/bulk/", body, content_type="application/json")
    assert no_token.status_code == 403
