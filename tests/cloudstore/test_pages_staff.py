"""Staff pages of the cloud store: the guide / store manager mobile pages (/m/store/…) and the
brand dashboard's catalogue, store prices, campaigns, orders, refunds and takings. Every page for
the right role and refused for the wrong one, another store's orders out of a guide's reach, forms
with good and bad input (nothing written on bad input), constant query counts on growing lists."""

from __future__ import annotations

import datetime
import io
import re
import uuid
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from cloudstore.models import (
    Campaign,
    Category,
    Inventory,
    Order,
    Product,
    ProductImage,
    Refund,
    ShareLink,
    Sku,
    StockMovement,
)
from cloudstore.services import checkout, external_orders, order_status, refunds
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import (
    CampaignFactory,
    InventoryFactory,
    MemberFactory,
    ProductFactory,
    SkuFactory,
    StaffFactory,
    StoreFactory,
)
from tests.helpers.auth import login_as
from tests.helpers.pages import count, text
from tests.helpers.shop import pay
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


# --- helpers --------------------------------------------------------------------------------------


def paid_order(brand, store, member, sku, *, fulfilment="pickup", qty=1, key=None) -> Order:
    extra = {}
    if fulfilment == "ship":
        extra = {"recipient": "李娜", "phone": "13712345678", "address": "上海市静安区南京西路1号"}
    order = checkout.checkout(
        brand=brand,
        store=store,
        member=member,
        items=[(sku.pk, qty)],
        fulfilment=fulfilment,
        checkout_key=key or uuid.uuid4().hex,
        **extra,
    )
    pay(brand, order)
    return refresh(order)


def jpeg_bytes(size=(200, 160), color=(220, 80, 120)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def second_store(brand):
    return StoreFactory(brand=brand, code="SH002", name="徐家汇店")


@pytest.fixture
def second_guide(brand, second_store):
    return StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[second_store], name="李娜")


# --- access: who sees which page ------------------------------------------------------------------


def mobile_urls(store, order, sku, link):
    return [
        reverse("m-store-hub", args=[store.pk]),
        reverse("m-store-goods", args=[store.pk]),
        reverse("m-store-share-coupon", args=[store.pk]),
        reverse("m-store-shares"),
        reverse("m-store-share", args=[link.pk]),
        reverse("m-store-orders", args=[store.pk]),
        reverse("m-store-orders", args=[store.pk]) + "?tab=pickup",
        reverse("m-store-orders", args=[store.pk]) + "?tab=all",
        reverse("m-store-order", args=[store.pk, order.pk]),
        reverse("m-store-pickup", args=[store.pk]),
    ]


def manager_urls(store, sku):
    return [
        reverse("m-store-stock", args=[store.pk]),
        reverse("m-store-stock", args=[store.pk]) + "?low=1",
        reverse("m-store-stock-item", args=[store.pk, sku.pk]),
        reverse("m-store-takings", args=[store.pk]),
    ]


def test_mobile_pages_render_for_a_guide(client, brand, store, guide, stock, member, sku, product):
    order = paid_order(brand, store, member, sku)
    with brand_scope(brand):
        link = ShareLink.objects.create(
            brand=brand, code="ABCD2345", guide=guide, kind="store", store=store, target="store"
        )
    login_as(client, guide)
    for url in mobile_urls(store, order, sku, link):
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'class="tabbar"' in text(response), url
    # Stock and takings are the store manager's.
    for url in manager_urls(store, sku):
        assert client.get(url).status_code == 403, url
    # The entry point remembers the store and goes where it is asked.
    response = client.get(reverse("m-store") + "?go=goods")
    assert response.status_code == 302 and response.url == reverse("m-store-goods", args=[store.pk])


def test_mobile_manager_pages_render_for_a_store_manager_and_an_admin(
    client, brand, store, store_manager, brand_admin, stock, sku, member
):
    order = paid_order(brand, store, member, sku)
    with brand_scope(brand):
        link = ShareLink.objects.create(
            brand=brand, code="ABCD2346", guide=store_manager, kind="store", store=store, target="store"
        )
    for staff in (store_manager, brand_admin):
        login_as(client, staff)
        urls = manager_urls(store, sku)
        if staff == store_manager:
            urls += mobile_urls(store, order, sku, link)
        for url in urls:
            assert client.get(url).status_code == 200, (staff.role, url)


def test_home_tab_links_to_the_cloud_store(client, guide, store_manager, store):
    login_as(client, guide)
    body = text(client.get(reverse("home")))
    assert reverse("m-store") + "?go=goods" in body and reverse("m-store") + "?go=pickup" in body
    assert "?go=stock" not in body
    login_as(client, store_manager)
    body = text(client.get(reverse("home")))
    assert "?go=stock" in body and "?go=takings" in body


def test_a_guide_cannot_see_another_stores_orders(
    client, brand, store, second_store, guide, second_guide, member, sku, product
):
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=10)
    InventoryFactory(brand=brand, store=second_store, sku=sku, on_hand=10)
    theirs = paid_order(brand, second_store, member, sku)
    mine = paid_order(brand, store, member, sku)
    login_as(client, guide)
    # Not through the other store's pages, nor through their own store's pages.
    assert client.get(reverse("m-store-hub", args=[second_store.pk])).status_code == 404
    assert client.get(reverse("m-store-orders", args=[second_store.pk])).status_code == 404
    assert client.get(reverse("m-store-order", args=[second_store.pk, theirs.pk])).status_code == 404
    assert client.get(reverse("m-store-order", args=[store.pk, theirs.pk])).status_code == 404
    response = client.post(reverse("m-store-order-advance", args=[store.pk, theirs.pk]), {"to": "completed"})
    assert response.status_code == 404
    body = text(client.get(reverse("m-store-orders", args=[store.pk]) + "?tab=all"))
    assert mine.number in body and theirs.number not in body
    # A pickup code of the other store does not work here.
    response = client.post(reverse("m-store-pickup", args=[store.pk]), {"code": theirs.pickup_code})
    assert response.status_code == 400
    assert refresh(theirs).status == Order.Status.PAID
    # Nor in the dashboard (a guide has no dashboard).
    assert client.get(reverse("dash-cs-order", args=[theirs.pk])).status_code == 403


def dashboard_admin_urls(product, sku, store, campaign, order, category):
    return [
        reverse("dash-cs-products"),
        reverse("dash-cs-products") + "?q=HA&status=active",
        reverse("dash-cs-product-new"),
        reverse("dash-cs-product", args=[product.pk]),
        reverse("dash-cs-sku", args=[product.pk, sku.pk]),
        reverse("dash-cs-categories"),
        reverse("dash-cs-category", args=[category.pk]),
        reverse("dash-cs-store-stock", args=[store.pk]),
        reverse("dash-cs-store-assortment", args=[store.pk]),
        reverse("dash-cs-campaigns"),
        reverse("dash-cs-campaign-new"),
        reverse("dash-cs-campaign", args=[campaign.pk]),
    ]


def test_dashboard_pages_by_role(
    client, brand, store, second_store, brand_admin, store_manager, guide, product, sku, stock, member
):
    InventoryFactory(brand=brand, store=second_store, sku=sku, on_hand=5)
    campaign = CampaignFactory(brand=brand)
    with brand_scope(brand):
        category = Category.objects.create(brand=brand, name="护肤")
    order = paid_order(brand, store, member, sku)
    elsewhere = paid_order(brand, second_store, member, sku)
    admin_only = dashboard_admin_urls(product, sku, store, campaign, order, category)
    orders_pages = [
        reverse("dash-cs-orders"),
        reverse("dash-cs-orders") + f"?status=paid&store={store.pk}&date_from=2020-01-01",
        reverse("dash-cs-order", args=[order.pk]),
        reverse("dash-cs-takings"),
        reverse("dash-cs-takings") + f"?store={store.pk}&date_from=2025-01-01&date_to=2025-01-10",
    ]
    login_as(client, brand_admin)
    for url in [*admin_only, *orders_pages, reverse("dash-cs-order", args=[elsewhere.pk])]:
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("dash-cs-stores")).status_code == 302

    login_as(client, store_manager)
    for url in admin_only:
        assert client.get(url).status_code == 403, url
    for url in orders_pages:
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("dash-cs-order", args=[elsewhere.pk])).status_code == 404
    body = text(client.get(reverse("dash-cs-orders")))
    assert order.number in body and elsewhere.number not in body
    # A store manager's takings are their own store's; "all stores" is not offered.
    body = text(client.get(reverse("dash-cs-takings")))
    assert second_store.name not in body

    login_as(client, guide)
    for url in [*admin_only, *orders_pages]:
        assert client.get(url).status_code == 403, url

    client.logout()
    response = client.get(reverse("dash-cs-products"))
    assert response.status_code == 302 and "/login/" in response.url
    response = client.get(reverse("m-store"))
    assert response.status_code == 302 and "/login/" in response.url


def test_other_brands_ids_are_404(client, brand, store, other_brand, other_store, brand_admin, product, sku):
    b_product = ProductFactory(brand=other_brand)
    b_sku = SkuFactory(brand=other_brand, product=b_product)
    InventoryFactory(brand=other_brand, store=other_store, sku=b_sku, on_hand=5)
    b_campaign = CampaignFactory(brand=other_brand)
    b_order = paid_order(other_brand, other_store, MemberFactory(brand=other_brand), b_sku)
    with brand_scope(other_brand):
        b_line = b_order.lines.get()
    login_as(client, brand_admin)
    for url in [
        reverse("m-store-hub", args=[other_store.pk]),
        reverse("m-store-order", args=[store.pk, b_order.pk]),
        reverse("m-store-stock-item", args=[store.pk, b_sku.pk]),
        reverse("dash-cs-product", args=[b_product.pk]),
        reverse("dash-cs-sku", args=[b_product.pk, b_sku.pk]),
        reverse("dash-cs-sku", args=[product.pk, b_sku.pk]),
        reverse("dash-cs-store-stock", args=[other_store.pk]),
        reverse("dash-cs-campaign", args=[b_campaign.pk]),
        reverse("dash-cs-order", args=[b_order.pk]),
    ]:
        assert client.get(url).status_code == 404, url
    for url, data in [
        (reverse("m-store-share-product", args=[store.pk, b_product.pk]), {}),
        (reverse("m-store-order-advance", args=[store.pk, b_order.pk]), {"to": "completed"}),
        (reverse("dash-cs-store-price", args=[store.pk, b_sku.pk]), {f"p{b_sku.pk}-price": "1"}),
        (
            reverse("dash-cs-order-refund", args=[b_order.pk]),
            {"mode": "amount", "amount": "1", "reason": "x"},
        ),
        (reverse("m-store-share-coupon", args=[store.pk]), {"campaign": b_campaign.pk}),
    ]:
        assert client.post(url, data).status_code == 404, url
    # The dashboard's "add a SKU to this store" does not find another brand's code either.
    response = client.post(reverse("dash-cs-store-stock", args=[store.pk]), {"sku_code": b_sku.code})
    assert response.status_code == 400
    assert refresh(b_order).refunded_fen == 0 and refresh(b_line).refunded_quantity == 0
    assert count(brand, ShareLink) == 0


# --- goods and share links ------------------------------------------------------------------------


def test_goods_list_shows_store_price_availability_and_low_stock(client, brand, store, guide, sku, product):
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=3, price_fen=25900)
    other = ProductFactory(brand=brand, name="保湿面霜")
    InventoryFactory(brand=brand, store=store, sku=SkuFactory(brand=brand, product=other), on_hand=40)
    login_as(client, guide)
    body = text(client.get(reverse("m-store-goods", args=[store.pk])))
    assert "玻尿酸精华" in body and "¥259.00" in body and "保湿面霜" in body
    row = re.search(rf'data-testid="good-{product.pk}".*?</form>', body, re.S).group(0)
    assert "badge-red" in row  # 3 available, warning level 5
    other_row = re.search(rf'data-testid="good-{other.pk}".*?</form>', body, re.S).group(0)
    assert "badge-red" not in other_row
    body = text(client.get(reverse("m-store-goods", args=[store.pk]) + "?q=面霜", **HX))
    assert "保湿面霜" in body and "玻尿酸精华" not in body


def test_share_a_product_is_idempotent_and_shows_link_and_qr(client, brand, store, guide, stock, product):
    login_as(client, guide)
    url = reverse("m-store-share-product", args=[store.pk, product.pk])
    first = client.post(url)
    second = client.post(url)
    assert first.status_code == second.status_code == 302
    assert first.url == second.url
    assert count(brand, ShareLink, guide=guide) == 1
    with brand_scope(brand):
        link = ShareLink.objects.get(guide=guide)
    assert (link.kind, link.product_id, link.store_id) == ("product", product.pk, store.pk)
    body = text(client.get(first.url))
    share_url = "http://testserver" + reverse("share-open", args=[brand.slug, link.code])
    assert f'value="{share_url}"' in body
    assert "<svg" in body and 'class="qr"' in body
    assert "data-copy" in body
    # It is listed among my links, with its opens.
    body = text(client.get(reverse("m-store-shares")))
    assert f'data-testid="share-row-{link.pk}"' in body


def test_share_store_and_coupon(client, brand, store, guide, stock):
    campaign = CampaignFactory(brand=brand, name="满100减20")
    brand_only = CampaignFactory(brand=brand, name="内部券", guides_may_issue=False)
    login_as(client, guide)
    response = client.post(reverse("m-store-share-store", args=[store.pk]))
    assert response.status_code == 302
    body = text(client.get(reverse("m-store-share-coupon", args=[store.pk])))
    assert "满100减20" in body and "内部券" not in body
    response = client.post(reverse("m-store-share-coupon", args=[store.pk]), {"campaign": campaign.pk})
    assert response.status_code == 302
    with brand_scope(brand):
        kinds = sorted(ShareLink.objects.filter(guide=guide).values_list("kind", flat=True))
    assert kinds == ["coupon", "store"]
    # A campaign a guide may not share, and no campaign at all.
    response = client.post(reverse("m-store-share-coupon", args=[store.pk]), {"campaign": brand_only.pk})
    assert response.status_code == 404
    response = client.post(reverse("m-store-share-coupon", args=[store.pk]), {"campaign": "x"})
    assert response.status_code == 400
    assert count(brand, ShareLink, guide=guide) == 2


def test_share_links_of_another_guide_are_404(client, brand, store, guide, store_manager):
    with brand_scope(brand):
        link = ShareLink.objects.create(
            brand=brand, code="ZXCV2345", guide=store_manager, kind="store", store=store, target="store"
        )
    login_as(client, guide)
    assert client.get(reverse("m-store-share", args=[link.pk])).status_code == 404


# --- stock ----------------------------------------------------------------------------------------


def test_stock_change_with_reason_and_history(client, brand, store, store_manager, stock, sku):
    login_as(client, store_manager)
    url = reverse("m-store-stock-item", args=[store.pk, sku.pk])
    response = client.post(
        url, {"kind": "receive", "quantity": "6", "reason": "到货 #1234", "low_stock_at": "4"}
    )
    assert response.status_code == 302
    stock = refresh(stock)
    assert (stock.on_hand, stock.low_stock_at) == (16, 4)
    response = client.post(url, {"kind": "adjust", "quantity": "-2", "reason": "破损", "low_stock_at": "4"})
    assert refresh(stock).on_hand == 14
    body = text(client.get(url))
    assert "到货 #1234" in body and "破损" in body and 'data-testid="on-hand">14<' in body


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "receive", "quantity": "5", "reason": "  "},  # no reason
        {"kind": "receive", "quantity": "-5", "reason": "x"},  # received goods are positive
        {"kind": "adjust", "quantity": "0", "reason": "x"},
        {"kind": "count", "quantity": "1.5", "reason": "x"},
        {"kind": "steal", "quantity": "1", "reason": "x"},
        {},
    ],
)
def test_stock_change_bad_input_changes_nothing(client, brand, store, store_manager, stock, sku, data):
    login_as(client, store_manager)
    response = client.post(reverse("m-store-stock-item", args=[store.pk, sku.pk]), data)
    assert response.status_code == 400
    assert refresh(stock).on_hand == 10
    assert count(brand, StockMovement) == 0


def test_stock_cannot_go_below_what_orders_hold(client, brand, store, store_manager, stock, sku, member):
    checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 4)], fulfilment="pickup", checkout_key="held"
    )
    login_as(client, store_manager)
    response = client.post(
        reverse("m-store-stock-item", args=[store.pk, sku.pk]),
        {"kind": "count", "quantity": "3", "reason": "盘点"},
    )
    assert response.status_code == 400
    assert "field-error" in text(response)
    assert refresh(stock).on_hand == 10


def test_stock_low_filter(client, brand, store, store_manager, sku):
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=2)
    plenty = SkuFactory(brand=brand, code="PLENTY-1")
    InventoryFactory(brand=brand, store=store, sku=plenty, on_hand=50)
    login_as(client, store_manager)
    body = text(client.get(reverse("m-store-stock", args=[store.pk]) + "?low=1"))
    assert "HA-50" in body and "PLENTY-1" not in body
    body = text(client.get(reverse("m-store-stock", args=[store.pk])))
    assert "HA-50" in body and "PLENTY-1" in body


# --- orders, pickups and takings on the phone -----------------------------------------------------


def test_pickup_code_shows_the_order_before_it_is_handed_over(
    client, brand, store, guide, stock, member, sku
):
    order = paid_order(brand, store, member, sku, qty=2)
    login_as(client, guide)
    url = reverse("m-store-pickup", args=[store.pk])
    response = client.post(url, {"code": "000000" if order.pickup_code != "000000" else "111111"})
    assert response.status_code == 400 and "field-error" in text(response)
    assert refresh(order).status == Order.Status.PAID
    # Typing the code shows the order (items, member, amount) and changes nothing yet.
    response = client.post(url, {"code": f" {order.pickup_code} "})
    body = text(response)
    assert response.status_code == 200 and 'data-testid="pickup-check"' in body
    assert order.number in body and sku.product.name in body and "×2" in body
    assert member.name in body and f"¥{order.paid_fen // 100}" in body
    assert f'name="order" value="{order.pk}"' in body
    assert refresh(order).status == Order.Status.PAID
    # Then the staff member confirms the hand-over of that order.
    response = client.post(url, {"code": order.pickup_code, "order": order.pk})
    assert response.status_code == 302 and response.url == reverse("m-store-order", args=[store.pk, order.pk])
    assert refresh(order).status == Order.Status.PICKED_UP
    body = text(client.get(response.url))
    assert 'data-testid="handed-over"' in body and order.number in body
    # The same code again finds nothing waiting, in either step.
    assert client.post(url, {"code": order.pickup_code}).status_code == 400
    assert client.post(url, {"code": order.pickup_code, "order": order.pk}).status_code == 400


def test_pickup_confirm_refuses_a_code_of_another_order_or_bad_input(
    client, brand, store, guide, stock, member, sku, other_brand
):
    shown = paid_order(brand, store, member, sku)
    other = paid_order(brand, store, member, sku)
    login_as(client, guide)
    url = reverse("m-store-pickup", args=[store.pk])
    # The code of one order with the id of another confirms neither.
    response = client.post(url, {"code": other.pickup_code, "order": shown.pk})
    assert response.status_code == 400
    for bad in (
        {"code": shown.pickup_code, "order": "x"},
        {"code": "", "order": shown.pk},
        {"order": shown.pk},
    ):
        assert client.post(url, bad).status_code == 400, bad
    assert refresh(shown).status == refresh(other).status == Order.Status.PAID
    # Another brand's store is not found.
    their_store = StoreFactory(brand=other_brand, code="HZ009")
    assert (
        client.post(reverse("m-store-pickup", args=[their_store.pk]), {"code": "123456"}).status_code == 404
    )


def test_pickup_confirm_by_scanned_qr_token(client, brand, store, store_manager, stock, member, sku):
    order = paid_order(brand, store, member, sku)
    login_as(client, store_manager)
    token = order_status.pickup_token(order)
    url = reverse("m-store-pickup", args=[store.pk])
    response = client.post(url, {"code": token})
    assert response.status_code == 200 and order.number in text(response)
    assert refresh(order).status == Order.Status.PAID
    response = client.post(url, {"code": token, "order": order.pk})
    assert response.status_code == 302
    assert refresh(order).status == Order.Status.PICKED_UP


def test_ship_then_complete(client, brand, store, guide, stock, member, sku):
    order = paid_order(brand, store, member, sku, fulfilment="ship")
    login_as(client, guide)
    body = text(client.get(reverse("m-store-orders", args=[store.pk]) + "?tab=ship"))
    assert order.number in body
    detail = text(client.get(reverse("m-store-order", args=[store.pk, order.pk])))
    assert "137****5678" in detail and "13712345678" not in detail  # the phone is masked
    url = reverse("m-store-order-advance", args=[store.pk, order.pk])
    assert client.post(url, {"to": "picked_up"}).status_code == 302  # not offered: refused
    assert refresh(order).status == Order.Status.PAID
    client.post(url, {"to": "fulfilled"})
    assert refresh(order).status == Order.Status.FULFILLED
    client.post(url, {"to": "completed"})
    assert refresh(order).status == Order.Status.COMPLETED
    body = text(client.get(reverse("m-store-order", args=[store.pk, order.pk])))
    assert body.count("<li") >= 4  # placed, paid, shipped, completed


def test_takings_for_the_day(client, brand, store, store_manager, stock, member, sku):
    paid_order(brand, store, member, sku, qty=2)
    login_as(client, store_manager)
    body = text(client.get(reverse("m-store-takings", args=[store.pk])))
    assert 'data-testid="takings-net">¥598.00<' in body
    body = text(client.get(reverse("m-store-takings", args=[store.pk]) + "?day=2020-01-01"))
    assert 'data-testid="takings-net">¥0.00<' in body
    assert client.get(reverse("m-store-takings", args=[store.pk]) + "?day=nonsense").status_code == 400


# --- dashboard: catalogue -------------------------------------------------------------------------


def test_product_create_and_edit(client, brand, brand_admin):
    with brand_scope(brand):
        cat = Category.objects.create(brand=brand, name="护肤")
    login_as(client, brand_admin)
    response = client.post(
        reverse("dash-cs-product-new"),
        {"name": "修护面膜", "category": cat.pk, "status": "active", "description": ""},
    )
    assert response.status_code == 302
    with brand_scope(brand):
        product = Product.objects.get(name="修护面膜")
    assert product.category_id == cat.pk
    response = client.post(
        reverse("dash-cs-product", args=[product.pk]), {"name": "修护面膜 Pro", "status": "archived"}
    )
    assert response.status_code == 302
    assert refresh(product).name == "修护面膜 Pro" and refresh(product).status == "archived"
    assert client.post(reverse("dash-cs-product-new"), {"name": " ", "status": "active"}).status_code == 400
    assert count(brand, Product) == 1


@pytest.mark.parametrize(
    "price, fen", [("299.00", 29900), ("299", 29900), ("19.9", 1990), ("0.01", 1), ("1,299.50", 129950)]
)
def test_sku_price_in_yuan_becomes_exact_fen(client, brand, brand_admin, product, price, fen):
    login_as(client, brand_admin)
    response = client.post(
        reverse("dash-cs-sku-new", args=[product.pk]),
        {"code": "NEW-1", "spec": "30ml", "barcode": "6901234567890", "list_price": price, "active": "on"},
    )
    assert response.status_code == 302
    with brand_scope(brand):
        sku = Sku.objects.get(code="NEW-1")
    assert sku.list_price_fen == fen and sku.active and sku.barcode == "6901234567890"


@pytest.mark.parametrize("price", ["1.234", "-1", "-0.01", "abc", "", "1e400", "NaN"])
def test_sku_bad_price_writes_nothing(client, brand, brand_admin, product, price):
    login_as(client, brand_admin)
    response = client.post(
        reverse("dash-cs-sku-new", args=[product.pk]), {"code": "NEW-1", "list_price": price}
    )
    assert response.status_code == 400
    assert "field-error" in text(response)
    assert count(brand, Sku) == 0


def test_sku_duplicate_code_and_edit(client, brand, brand_admin, product, sku):
    login_as(client, brand_admin)
    response = client.post(
        reverse("dash-cs-sku-new", args=[product.pk]), {"code": "HA-50", "list_price": "1"}
    )
    assert response.status_code == 400 and "field-error" in text(response)
    assert count(brand, Sku) == 1
    url = reverse("dash-cs-sku", args=[product.pk, sku.pk])
    assert 'value="299.00"' in text(client.get(url))
    response = client.post(url, {"code": "HA-50", "spec": "50ml", "list_price": "279.90", "active": ""})
    assert response.status_code == 302
    sku = refresh(sku)
    assert sku.list_price_fen == 27990 and not sku.active


def test_photo_upload_shows_thumbnail_and_delete(client, brand, brand_admin, product):
    login_as(client, brand_admin)
    url = reverse("dash-cs-photo-add", args=[product.pk])
    upload = SimpleUploadedFile("photo.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = client.post(url, {"image": upload})
    assert response.status_code == 302
    with brand_scope(brand):
        image = ProductImage.objects.get(product=product)
    body = text(client.get(reverse("dash-cs-product", args=[product.pk])))
    assert image.thumbnail.url in body
    response = client.post(reverse("dash-cs-photo-delete", args=[product.pk, image.pk]))
    assert response.status_code == 302
    assert count(brand, ProductImage) == 0


@pytest.mark.parametrize(
    "name, content",
    [("notes.txt", b"not an image at all"), ("fake.jpg", b"\xff\xd8\xff\xe0 broken"), ("tiny.jpg", None)],
)
def test_photo_upload_refuses_non_images(client, brand, brand_admin, product, name, content):
    if content is None:
        content = jpeg_bytes(size=(20, 20))  # too small
    login_as(client, brand_admin)
    upload = SimpleUploadedFile(name, content, content_type="image/jpeg")
    response = client.post(reverse("dash-cs-photo-add", args=[product.pk]), {"image": upload})
    assert response.status_code == 400
    body = text(response)
    assert "field-error" in body and 'name="image"' in body
    assert count(brand, ProductImage) == 0


def test_photo_upload_refuses_oversized_files(client, brand, brand_admin, product, monkeypatch):
    from cloudstore import images

    monkeypatch.setattr(images, "MAX_UPLOAD_BYTES", 1000)
    login_as(client, brand_admin)
    upload = SimpleUploadedFile("big.jpg", jpeg_bytes(size=(400, 400)), content_type="image/jpeg")
    response = client.post(reverse("dash-cs-photo-add", args=[product.pk]), {"image": upload})
    assert response.status_code == 400 and "field-error" in text(response)
    assert count(brand, ProductImage) == 0


def test_categories(client, brand, brand_admin):
    login_as(client, brand_admin)
    assert client.post(reverse("dash-cs-categories"), {"name": "护肤", "sort": "1"}).status_code == 302
    response = client.post(reverse("dash-cs-categories"), {"name": "护肤", "sort": "2"})
    assert response.status_code == 400 and "field-error" in text(response)
    assert count(brand, Category) == 1
    with brand_scope(brand):
        cat = Category.objects.get()
    assert client.post(reverse("dash-cs-category", args=[cat.pk]), {"name": "彩妆"}).status_code == 302
    assert refresh(cat).name == "彩妆"


def test_store_price_set_clear_and_bad_input(client, brand, store, brand_admin, stock, sku):
    login_as(client, brand_admin)
    url = reverse("dash-cs-store-price", args=[store.pk, sku.pk])
    field = f"p{sku.pk}-price"
    response = client.post(url, {field: "259.00"}, **HX)
    assert response.status_code == 200 and 'value="259.00"' in text(response)
    assert refresh(stock).price_fen == 25900
    for bad in ("1.234", "-5", "x"):
        response = client.post(url, {field: bad}, **HX)
        assert response.status_code == 400 and "field-error" in text(response)
        assert refresh(stock).price_fen == 25900
    response = client.post(url, {field: ""})  # without htmx: back to the page
    assert response.status_code == 302
    assert refresh(stock).price_fen is None
    body = text(client.get(reverse("dash-cs-store-stock", args=[store.pk])))
    assert "HA-50" in body and "¥299.00" in body


def test_store_add_sku_by_code(client, brand, store, brand_admin, sku):
    login_as(client, brand_admin)
    url = reverse("dash-cs-store-stock", args=[store.pk])
    assert client.post(url, {"sku_code": "NOPE", "price": ""}).status_code == 400
    assert client.post(url, {"sku_code": "HA-50", "price": "1.001"}).status_code == 400
    assert count(brand, Inventory) == 0
    assert client.post(url, {"sku_code": "HA-50", "price": "199"}).status_code == 302
    with brand_scope(brand):
        inv = Inventory.objects.get(store=store, sku=sku)
    assert (inv.on_hand, inv.price_fen) == (0, 19900)


# --- dashboard: campaigns -------------------------------------------------------------------------


def test_campaign_create_and_edit(client, brand, brand_admin):
    login_as(client, brand_admin)
    data = {
        "name": "满100减20",
        "kind": "amount_off",
        "amount_off": "20",
        "threshold": "100.00",
        "per_member_limit": "1",
        "total_limit": "",
        "valid_from": "2030-01-01",
        "valid_until": "2030-01-31",
        "guides_may_issue": "on",
        "active": "on",
    }
    assert client.post(reverse("dash-cs-campaign-new"), data).status_code == 302
    with brand_scope(brand):
        c = Campaign.objects.get()
    assert (c.amount_off_fen, c.threshold_fen, c.total_limit, c.guides_may_issue) == (2000, 10000, None, True)
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    # Whole days in Beijing time, the last day included.
    assert c.starts_at == datetime.datetime(2030, 1, 1, tzinfo=shanghai)
    assert c.ends_at == datetime.datetime(2030, 2, 1, tzinfo=shanghai)
    body = text(client.get(reverse("dash-cs-campaigns")))
    assert "满100减20" in body
    edit = {**data, "kind": "percent_off", "amount_off": "", "percent_off": "15", "max_discount": "50"}
    assert client.post(reverse("dash-cs-campaign", args=[c.pk]), edit).status_code == 302
    c = refresh(c)
    assert (c.kind, c.percent_off, c.amount_off_fen, c.max_discount_fen) == ("percent_off", 15, 0, 5000)


@pytest.mark.parametrize(
    "change",
    [
        {"amount_off": ""},
        {"amount_off": "1.234"},
        {"amount_off": "-20"},
        {"kind": "percent_off", "percent_off": "120"},
        {"kind": "percent_off", "percent_off": ""},
        {"valid_until": "2029-12-01"},
        {"per_member_limit": "0"},
        {"name": ""},
    ],
)
def test_campaign_bad_input_writes_nothing(client, brand, brand_admin, change):
    login_as(client, brand_admin)
    data = {
        "name": "满100减20",
        "kind": "amount_off",
        "amount_off": "20",
        "threshold": "100",
        "per_member_limit": "1",
        "valid_from": "2030-01-01",
        "valid_until": "2030-01-31",
        **change,
    }
    response = client.post(reverse("dash-cs-campaign-new"), data)
    assert response.status_code == 400
    assert count(brand, Campaign) == 0


# --- dashboard: a store's assortment in bulk ------------------------------------------------------


@pytest.fixture
def catalogue(brand, other_brand):
    """Five SKUs on sale in two categories, one SKU off sale, one archived product, and another
    brand's SKU whose code is also used in the files below."""
    with brand_scope(brand):
        face = Category.objects.create(brand=brand, name="面部护理")
        body = Category.objects.create(brand=brand, name="身体护理")
    on_sale = [
        SkuFactory(brand=brand, code=f"FACE-{i}", product=ProductFactory(brand=brand, category=face))
        for i in range(3)
    ] + [
        SkuFactory(brand=brand, code=f"BODY-{i}", product=ProductFactory(brand=brand, category=body))
        for i in range(2)
    ]
    SkuFactory(brand=brand, code="OFF-1", active=False)
    SkuFactory(brand=brand, code="OLD-1", product=ProductFactory(brand=brand, status=Product.Status.ARCHIVED))
    SkuFactory(brand=other_brand, code="THEIRS-1")
    return {"face": face, "body": body, "on_sale": on_sale}


def carried(brand, store) -> dict[str, tuple]:
    with brand_scope(brand):
        return {
            inv.sku.code: (inv.price_fen, inv.on_hand)
            for inv in Inventory.objects.filter(store=store).select_related("sku")
        }


def csv_upload(body: str | bytes, name="assortment.csv", content_type="text/csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, body.encode() if isinstance(body, str) else body, content_type=content_type
    )


def test_assortment_adds_every_sku_on_sale_once(client, brand, store, brand_admin, catalogue):
    InventoryFactory(brand=brand, store=store, sku=catalogue["on_sale"][0], on_hand=7, price_fen=100)
    login_as(client, brand_admin)
    url = reverse("dash-cs-store-assortment", args=[store.pk])
    page = text(client.get(url))
    assert 'data-missing="4"' in page
    response = client.post(url, {"action": "all"})
    assert response.status_code == 302 and response.url == url
    have = carried(brand, store)
    assert set(have) == {"FACE-0", "FACE-1", "FACE-2", "BODY-0", "BODY-1"}  # not off sale, archived, theirs
    assert have["FACE-0"] == (100, 7) and have["BODY-1"] == (None, 0)  # carried ones are left alone
    # Idempotent: a second run adds nothing and moves no stock.
    assert client.post(url, {"action": "all"}).status_code == 302
    assert carried(brand, store) == have
    assert count(brand, StockMovement) == 0
    assert 'data-missing="0"' in text(client.get(url))


def test_assortment_adds_one_category(client, brand, store, brand_admin, catalogue, other_brand):
    login_as(client, brand_admin)
    url = reverse("dash-cs-store-assortment", args=[store.pk])
    assert client.post(url, {"action": "category", "c-category": catalogue["body"].pk}).status_code == 302
    assert set(carried(brand, store)) == {"BODY-0", "BODY-1"}
    # Another brand's category, or no number at all, is refused and nothing changes.
    with brand_scope(other_brand):
        theirs = Category.objects.create(brand=other_brand, name="外来品类")
    for bad in (theirs.pk, "x", ""):
        assert client.post(url, {"action": "category", "c-category": bad}).status_code == 400, bad
    assert set(carried(brand, store)) == {"BODY-0", "BODY-1"}


def test_assortment_csv_adds_with_price_and_stock_and_a_rerun_changes_nothing(
    client, brand, store, brand_admin, catalogue
):
    InventoryFactory(brand=brand, store=store, sku=catalogue["on_sale"][0], on_hand=7, price_fen=100)
    login_as(client, brand_admin)
    url = reverse("dash-cs-store-assortment", args=[store.pk])
    body = "sku,price,stock\nFACE-0,,9\nFACE-1,59.90,12\n\nBODY-0,,\nOFF-1,8,0\n"
    response = client.post(url, {"action": "file", "file": csv_upload(body)})
    assert response.status_code == 302, text(response)
    have = carried(brand, store)
    assert have == {"FACE-0": (100, 9), "FACE-1": (5990, 12), "BODY-0": (None, 0), "OFF-1": (800, 0)}
    moves = count(brand, StockMovement)
    assert moves == 2  # FACE-0 counted to 9, FACE-1 received 12
    # The same file again: nothing added, nothing moved.
    response = client.post(url, {"action": "file", "file": csv_upload(body)}, follow=True)
    assert "0" in text(response) and carried(brand, store) == have
    assert count(brand, StockMovement) == moves
    # Excel's GBK file with Chinese column names works too.
    gbk = "商品编码,门店价,库存\r\nBODY-1,88,3\r\n".encode("gb18030")
    assert client.post(url, {"action": "file", "file": csv_upload(gbk)}).status_code == 302
    assert carried(brand, store)["BODY-1"] == (8800, 3)


def test_assortment_csv_with_bad_rows_reports_each_and_writes_nothing(
    client, brand, store, brand_admin, catalogue
):
    login_as(client, brand_admin)
    url = reverse("dash-cs-store-assortment", args=[store.pk])
    body = (
        "sku,price,stock\n"
        "FACE-0,10,1\n"  # line 2: good
        "NOPE-9,,\n"  # line 3: unknown
        "THEIRS-1,,\n"  # line 4: another brand's SKU is unknown here
        "FACE-0,,\n"  # line 5: twice
        "FACE-1,12.345,\n"  # line 6: three decimals
        "FACE-2,,-3\n"  # line 7: negative stock
        "BODY-0,abc,\n"  # line 8: not a number
        ",5,\n"  # line 9: no code
        "BODY-1,,1.5\n"  # line 10: not whole
    )
    response = client.post(url, {"action": "file", "file": csv_upload(body)})
    page = text(response)
    assert response.status_code == 400 and 'data-testid="assortment-errors"' in page
    lines = [int(n) for n in re.findall(r'<tr data-line="(\d+)"', page)]
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "THEIRS-1" in page and "NOPE-9" in page
    assert carried(brand, store) == {} and count(brand, StockMovement) == 0


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (lambda: csv_upload(jpeg_bytes(), "photo.csv", "image/jpeg"), "不是 CSV 文件"),
        (lambda: csv_upload(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "a.png", "image/png"), "不是 CSV 文件"),
        (lambda: csv_upload(b"PK\x03\x04rest", "a.xlsx", "application/zip"), "Excel"),
        (lambda: csv_upload("code_name,qty\nFACE-0,1\n"), "sku"),
        (lambda: csv_upload("sku,price\n"), ""),
        (lambda: csv_upload("sku\n" + "FACE-0\n" * 300_000), "2 MB"),
    ],
)
def test_assortment_file_that_is_not_a_usable_csv_is_refused_clearly(
    client, brand, store, brand_admin, catalogue, upload, message
):
    login_as(client, brand_admin)
    response = client.post(
        reverse("dash-cs-store-assortment", args=[store.pk]), {"action": "file", "file": upload()}
    )
    assert response.status_code == 400
    assert "field-error" in text(response) and message in text(response)
    assert carried(brand, store) == {}


def test_assortment_of_another_brands_store_or_without_rights(
    client, brand, store, brand_admin, store_manager, catalogue, other_store
):
    login_as(client, brand_admin)
    url = reverse("dash-cs-store-assortment", args=[other_store.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "all"}).status_code == 404
    assert carried(other_store.brand, other_store) == {}
    login_as(client, store_manager)
    url = reverse("dash-cs-store-assortment", args=[store.pk])
    assert client.post(url, {"action": "all"}).status_code == 403
    assert carried(brand, store) == {}


# --- dashboard: orders and refunds ----------------------------------------------------------------


def refund_data(client, order, **data):
    """The refund form as the order page renders it (with its idempotency key), filled in."""
    body = text(client.get(reverse("dash-cs-order", args=[order.pk])))
    key = re.search(r'name="key" value="([0-9a-f-]{36})"', body).group(1)
    return {"key": key, "mode": "lines", "reason": "破损", "restock": "on", **data}


def test_refund_one_line_restocks_and_double_submit_is_one_refund(
    client, brand, store, brand_admin, stock, member, sku
):
    order = paid_order(brand, store, member, sku, qty=2)
    with brand_scope(brand):
        line = order.lines.get()
    login_as(client, brand_admin)
    data = refund_data(client, order, **{f"qty_{line.pk}": "1"})
    url = reverse("dash-cs-order-refund", args=[order.pk])
    first = client.post(url, data)
    second = client.post(url, data)  # the same form submitted twice
    assert first.status_code == second.status_code == 302
    assert count(brand, Refund) == 1
    order = refresh(order)
    assert order.refunded_fen == 29900
    with brand_scope(brand):
        assert Inventory.objects.get(pk=stock.pk).on_hand == 9  # 10 - 2 sold + 1 back
    body = text(client.get(reverse("dash-cs-order", args=[order.pk])))
    assert 'data-testid="refunded">¥299.00<' in body and "破损" in body


def test_refund_keeps_the_reason_internal_and_takes_a_message_for_the_shopper(
    client, brand, store, brand_admin, stock, member, sku
):
    order = paid_order(brand, store, member, sku, qty=1)
    login_as(client, brand_admin)
    data = refund_data(
        client, order, mode="amount", amount="10", reason="内部：顾客投诉", shopper_note="已补偿运费"
    )
    assert client.post(reverse("dash-cs-order-refund", args=[order.pk]), data).status_code == 302
    with brand_scope(brand):
        refund = Refund.objects.get()
    assert (refund.reason, refund.shopper_note) == ("内部：顾客投诉", "已补偿运费")
    body = text(client.get(reverse("dash-cs-order", args=[order.pk])))
    assert "内部：顾客投诉" in body and "已补偿运费" in body


def test_restock_is_not_offered_nor_accepted_for_an_order_without_a_store(
    client, brand, brand_admin, stock, member, sku
):
    order, _created = external_orders.order_external_create(
        brand=brand,
        staff=brand_admin,
        actor=Actor.system(),
        channel=Order.Channel.FLAGSHIP,
        data={
            "external_id": "TM-1",
            "lines": [{"sku": sku.code, "quantity": 2, "unit_price_fen": 29900}],
            "payments": [{"method": "alipay", "amount_fen": 59800, "reference": "A1"}],
        },
        fingerprint="x",
    )
    assert order.store_id is None
    with brand_scope(brand):
        line = order.lines.get()
    login_as(client, brand_admin)
    page = text(client.get(reverse("dash-cs-order", args=[order.pk])))
    assert 'name="restock"' not in page and 'data-testid="no-restock"' in page
    # A forged "restock" is ignored by the page, and the service refuses it outright.
    data = refund_data(client, order, **{f"qty_{line.pk}": "1"})
    assert client.post(reverse("dash-cs-order-refund", args=[order.pk]), data).status_code == 302
    with brand_scope(brand):
        assert Refund.objects.get().restock is False
        assert Inventory.objects.get(pk=stock.pk).on_hand == 10
    with pytest.raises(ValidationError) as exc:
        refunds.refund_create(
            brand=brand,
            staff=brand_admin,
            actor=Actor.system(),
            order=order,
            key="k2",
            fingerprint="y",
            lines=[{"line": line.pk, "quantity": 1}],
            restock=True,
            reason="退货",
        )
    assert "restock" in exc.value.error_dict
    assert count(brand, Refund) == 1 and refresh(order).refunded_fen == 29900


def test_refund_of_another_brands_order_is_not_found(client, brand_admin, other_brand, other_admin):
    login_as(client, brand_admin)
    theirs = StoreFactory(brand=other_brand, code="HZ002")
    other_sku = SkuFactory(brand=other_brand, product=ProductFactory(brand=other_brand))
    InventoryFactory(brand=other_brand, store=theirs, sku=other_sku, on_hand=5)
    order = paid_order(other_brand, theirs, MemberFactory(brand=other_brand), other_sku)
    response = client.post(
        reverse("dash-cs-order-refund", args=[order.pk]),
        {"key": str(uuid.uuid4()), "mode": "amount", "amount": "1", "reason": "x"},
    )
    assert response.status_code == 404
    assert refresh(order).refunded_fen == 0


def test_refund_above_paid_or_quantity_writes_nothing(client, brand, store, brand_admin, stock, member, sku):
    order = paid_order(brand, store, member, sku, qty=1)
    with brand_scope(brand):
        line = order.lines.get()
    login_as(client, brand_admin)
    url = reverse("dash-cs-order-refund", args=[order.pk])
    response = client.post(url, refund_data(client, order, mode="amount", amount="300.00"))
    assert response.status_code == 400 and "29900" in text(response)  # only 29900 fen left
    response = client.post(url, refund_data(client, order, **{f"qty_{line.pk}": "2"}))
    assert response.status_code == 400 and "alert-error" in text(response)
    for bad in (
        {"mode": "amount", "amount": "1.234"},
        {"mode": "amount", "amount": "-1"},
        {"mode": "amount", "amount": ""},
        {"mode": "lines"},
        {"reason": ""},
        {"key": "not-a-uuid", f"qty_{line.pk}": "1"},
    ):
        response = client.post(url, refund_data(client, order, **bad))
        assert response.status_code == 400, bad
    assert count(brand, Refund) == 0
    order = refresh(order)
    assert order.refunded_fen == 0 and order.status == Order.Status.PAID
    with brand_scope(brand):
        assert Inventory.objects.get(pk=stock.pk).on_hand == 9


def test_refund_by_amount_by_a_store_manager(client, brand, store, store_manager, stock, member, sku):
    order = paid_order(brand, store, member, sku, qty=1)
    login_as(client, store_manager)
    url = reverse("dash-cs-order-refund", args=[order.pk])
    response = client.post(url, refund_data(client, order, mode="amount", amount="50.5"))
    assert response.status_code == 302
    assert refresh(order).refunded_fen == 5050


def test_order_detail_shows_lines_payments_events_and_masked_phone(
    client, brand, store, brand_admin, stock, sku
):
    member = MemberFactory(brand=brand, name="赵敏", phone="13811112222")
    order = paid_order(brand, store, member, sku, fulfilment="ship")
    login_as(client, brand_admin)
    body = text(client.get(reverse("dash-cs-order", args=[order.pk])))
    assert "玻尿酸精华 50ml" in body and "138****2222" in body and "13811112222" not in body
    assert 'data-testid="order-events"' in body and "南京西路1号" in body
    assert order.number in body


def test_takings_report(client, brand, store, brand_admin, stock, member, sku):
    paid_order(brand, store, member, sku, qty=1)
    login_as(client, brand_admin)
    body = text(client.get(reverse("dash-cs-takings")))
    assert 'data-testid="total-paid">¥299.00<' in body and "cs-chart" in body
    body = text(client.get(reverse("dash-cs-takings") + f"?store={store.pk}"))
    assert 'data-testid="total-net">¥299.00<' in body
    response = client.get(reverse("dash-cs-takings") + "?date_from=2025-01-01&date_to=2025-06-01")
    assert response.status_code == 400  # at most 31 days
    response = client.get(reverse("dash-cs-takings") + "?date_from=2025-02-01&date_to=2025-01-01")
    assert response.status_code == 400


# --- growing lists keep a constant query count ----------------------------------------------------


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def test_order_lists_have_a_constant_query_count(
    client, brand, store, brand_admin, store_manager, member, sku, django_assert_max_num_queries
):
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=100)
    for _i in range(2):
        paid_order(brand, store, MemberFactory(brand=brand), sku)
    mobile = reverse("m-store-orders", args=[store.pk]) + "?tab=all"
    dash = reverse("dash-cs-orders")
    login_as(client, store_manager)
    few_mobile = queries(client, mobile)
    login_as(client, brand_admin)
    few_dash = queries(client, dash)
    for _i in range(6):
        paid_order(brand, store, MemberFactory(brand=brand), sku, fulfilment="ship")
    login_as(client, store_manager)
    with django_assert_max_num_queries(few_mobile):
        client.get(mobile)
    login_as(client, brand_admin)
    with django_assert_max_num_queries(few_dash):
        client.get(dash)


def test_stock_lists_have_a_constant_query_count(
    client, brand, store, brand_admin, store_manager, django_assert_max_num_queries
):
    def add(n):
        for _i in range(n):
            InventoryFactory(brand=brand, store=store, sku=SkuFactory(brand=brand), on_hand=3)

    add(2)
    mobile = reverse("m-store-stock", args=[store.pk])
    dash = reverse("dash-cs-store-stock", args=[store.pk])
    goods = reverse("m-store-goods", args=[store.pk])
    login_as(client, store_manager)
    few_mobile, few_goods = queries(client, mobile), queries(client, goods)
    login_as(client, brand_admin)
    few_dash = queries(client, dash)
    add(10)
    login_as(client, store_manager)
    with django_assert_max_num_queries(few_mobile):
        client.get(mobile)
    with django_assert_max_num_queries(few_goods):
        client.get(goods)
    login_as(client, brand_admin)
    with django_assert_max_num_queries(few_dash):
        client.get(dash)


def test_product_list_has_a_constant_query_count(client, brand, brand_admin, django_assert_max_num_queries):
    for _i in range(2):
        SkuFactory(brand=brand)
    login_as(client, brand_admin)
    few = queries(client, reverse("dash-cs-products"))
    for _i in range(8):
        SkuFactory(brand=brand)
    with django_assert_max_num_queries(few):
        client.get(reverse("dash-cs-products"))
