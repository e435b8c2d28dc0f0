"""The shopper's cloud store pages: store finder, store and product pages, the session cart,
checkout (as a member, or with a phone code after a guide's share link), coupons, the member's
orders and the simulated payment provider's buttons. Other brands' ids answer 404 and bad input
4xx with nothing written.

Assertions look at data, numbers and ``data-testid`` hooks rather than wording: the Chinese
translations of these pages are added separately."""

from __future__ import annotations

import io
import re
import uuid
from decimal import Decimal

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from cloudstore.models import Coupon, Inventory, Order, Payment, ShareLink, Touch
from cloudstore.services import catalogue, checkout, order_payments, order_status, promotions, refunds
from members import services as member_services
from members import shopper
from members.models import Member
from retail.events import Actor
from retail.models import Staff, Store
from retail.tenancy import brand_scope
from tests.factories import (
    CampaignFactory,
    CategoryFactory,
    InventoryFactory,
    MemberFactory,
    ProductFactory,
    SkuFactory,
    StaffFactory,
    StoreFactory,
)
from tests.helpers.otp import last_code
from tests.helpers.pages import text
from tests.helpers.shop import pay
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
SYS = Actor.system()


# --- helpers ---


def url(name, *args) -> str:
    return reverse(name, args=args)


def as_shopper(client, brand, member):
    session = client.session
    session[shopper.SESSION_KEY] = {str(brand.pk): member.pk}
    session.save()
    return client


def cart_items(client, brand) -> dict:
    return client.session.get("carts", {}).get(str(brand.pk), {}).get("items", {})


def add(client, brand, store, sku, qty=1, **extra):
    return client.post(
        url("shop-cart", brand.slug, store.code), {"op": "add", "sku": sku.pk, "qty": qty}, **extra
    )


def send_code(client, brand, phone):
    response = client.post(url("shopper-login-code", brand.slug), {"phone": phone}, **HX)
    assert response.status_code == 200
    return last_code()


def checkout_form(client, brand, store):
    """GET the checkout page; returns (response, its fresh checkout_key)."""
    response = client.get(url("shop-checkout", brand.slug, store.code))
    assert response.status_code == 200
    return response, response.context["form"]["checkout_key"].value()


def place(client, brand, store, **data):
    _page, key = checkout_form(client, brand, store)
    return client.post(
        url("shop-checkout", brand.slug, store.code), {"fulfilment": "pickup", "checkout_key": key, **data}
    )


def orders_of(brand, **filters):
    with brand_scope(brand):
        return list(Order.objects.filter(**filters).order_by("id"))


def error_codes(response) -> set[str]:
    form = response.context["form"]
    return {e.code for errs in form.errors.as_data().values() for e in errs}


def share(brand, guide, store, **kw) -> ShareLink:
    return promotions.share_link_get(brand=brand, guide=guide, store=store, **kw)


def png(color=(200, 80, 80)) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (300, 300), color).save(buf, "PNG")
    return SimpleUploadedFile("photo.png", buf.getvalue(), content_type="image/png")


@pytest.fixture
def shop(brand, store, stock, sku, product):
    """A store selling one product (¥299.00, 10 in stock)."""
    return {"brand": brand, "store": store, "sku": sku, "product": product, "stock": stock}


# --- store finder ---


def test_store_finder_lists_the_nearest_open_stores_first_with_distances(client, brand, other_brand):
    StoreFactory(brand=brand, code="FAR", name="远店", latitude="31.300000", longitude="121.500000")
    StoreFactory(brand=brand, code="NEAR", name="近店", latitude="31.230500", longitude="121.473000")
    StoreFactory(brand=brand, code="MID", name="中店", latitude="31.240000", longitude="121.480000")
    StoreFactory(
        brand=brand,
        code="SHUT",
        name="关店",
        status=Store.Status.CLOSED,
        latitude="31.2305",
        longitude="121.4730",
    )
    StoreFactory(brand=other_brand, code="OTHER", name="别家店", latitude="31.230400", longitude="121.473700")

    response = client.get(url("shop-stores", brand.slug), {"lat": "31.2304", "lng": "121.4737"})
    assert response.status_code == 200
    nearest = response.context["nearest"]
    assert [s.code for s, _m in nearest] == ["NEAR", "MID", "FAR"]
    body = text(response)
    assert body.index("近店") < body.index("中店") < body.index("远店")
    assert "关店" not in body and "别家店" not in body
    assert nearest[0][1] < 100 and 'data-testid="distance"' in body
    assert 'href="/c/yueyan/NEAR/"' in body


@pytest.mark.parametrize(
    "query",
    [{"lat": "abc", "lng": "121"}, {"lat": "95", "lng": "121"}, {"lat": "nan", "lng": "inf"}, {"lat": "31"}],
)
def test_store_finder_treats_a_bad_location_as_none(client, brand, store, query):
    response = client.get(url("shop-stores", brand.slug), query)
    assert response.status_code == 200
    assert response.context["nearest"] is None


def test_store_finder_without_a_location_lists_open_stores_with_a_filter(client, brand, store):
    StoreFactory(brand=brand, code="HZ9", name="杭州湖滨店", address="杭州市上城区湖滨路")
    StoreFactory(brand=brand, code="SHUT", name="关店", status=Store.Status.CLOSED)
    first = client.get(url("shop-stores", brand.slug))
    assert first.status_code == 200
    assert store.name in text(first) and "关店" not in text(first)

    listed = client.get(url("shop-stores", brand.slug), **HX)
    assert listed.status_code == 200
    body = text(listed)
    assert store.name in body and "杭州湖滨店" in body and "关店" not in body
    assert "<html" not in body  # a partial

    found = client.get(url("shop-stores", brand.slug), {"q": "湖滨"})
    assert "杭州湖滨店" in text(found) and store.name not in text(found)
    assert client.get(url("shop-stores", "no-such-brand")).status_code == 404
    assert client.post(url("shop-stores", brand.slug)).status_code == 405


# --- store page ---


def _catalogue(brand, store, n):
    for i in range(n):
        product = ProductFactory(brand=brand, name=f"商品{i:03d}", category=None)
        sku = SkuFactory(brand=brand, product=product, list_price_fen=1000 + i)
        InventoryFactory(brand=brand, store=store, sku=sku, on_hand=i % 3)


def _queries(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_store_page_query_count_does_not_depend_on_the_catalogue(client, brand, store, other_brand):
    small = StoreFactory(brand=brand, code="SMALL")
    _catalogue(brand, small, 10)
    _catalogue(brand, store, 60)
    with brand_scope(brand):
        for i, p in enumerate(ProductFactory._meta.model.objects.filter(name__startswith="商品")[:5]):
            catalogue.product_image_add(
                brand=brand,
                staff=StaffFactory(brand=brand, role=Staff.Role.BRAND_ADMIN),
                actor=SYS,
                product=p,
                upload=png((i * 40, 90, 90)),
            )
    few = _queries(client, url("shop-store", brand.slug, "SMALL"))
    many = _queries(client, url("shop-store", brand.slug, store.code))
    second_page = _queries(client, url("shop-store", brand.slug, store.code) + "?page=2")
    assert few == many == second_page
    page = client.get(url("shop-store", brand.slug, store.code)).context["page"]
    assert page.paginator.count == 60 and len(page.object_list) == 24


def test_store_page_shows_prices_and_greys_out_sold_out_goods(client, brand, store):
    cat = CategoryFactory(brand=brand, name="面霜")
    cream = ProductFactory(brand=brand, name="保湿面霜", category=cat)
    InventoryFactory(
        brand=brand, store=store, sku=SkuFactory(brand=brand, product=cream, list_price_fen=12345), on_hand=3
    )
    gone = ProductFactory(brand=brand, name="售罄精华")
    InventoryFactory(
        brand=brand, store=store, sku=SkuFactory(brand=brand, product=gone, list_price_fen=5000), on_hand=0
    )
    cheap = ProductFactory(brand=brand, name="门店特价")
    InventoryFactory(
        brand=brand,
        store=store,
        sku=SkuFactory(brand=brand, product=cheap, list_price_fen=9900),
        price_fen=8800,
    )
    hidden = ProductFactory(brand=brand, name="未上架")
    InventoryFactory(brand=brand, store=store, sku=SkuFactory(brand=brand, product=hidden), listed=False)

    response = client.get(url("shop-store", brand.slug, store.code))
    body = text(response)
    assert "¥123.45" in body and "¥88.00" in body and "¥99.00" not in body
    assert "未上架" not in body
    card = re.search(rf'<li class="product-card sold-out" data-testid="product-{gone.pk}">', body)
    assert card is not None and 'data-testid="sold-out"' in body
    assert f'class="product-card" data-testid="product-{cream.pk}"' in body
    assert "面霜" in body  # the category chip

    filtered = client.get(url("shop-store", brand.slug, store.code), {"category": cat.pk})
    assert [p.name for p in filtered.context["page"].object_list] == ["保湿面霜"]
    searched = client.get(url("shop-store", brand.slug, store.code), {"q": "特价"})
    assert [p.name for p in searched.context["page"].object_list] == ["门店特价"]
    odd = client.get(url("shop-store", brand.slug, store.code), {"category": "x", "page": "zz"})
    assert odd.status_code == 200


def test_unknown_closed_and_other_brand_stores(client, brand, store, other_brand, other_store):
    assert client.get(url("shop-store", brand.slug, "NOPE")).status_code == 404
    assert client.get(url("shop-store", brand.slug, other_store.code)).status_code == 404
    assert client.get(url("shop-store", other_brand.slug, store.code)).status_code == 404
    with brand_scope(brand):
        Store.objects.filter(pk=store.pk).update(status=Store.Status.CLOSED)
    closed = client.get(url("shop-store", brand.slug, store.code))
    assert closed.status_code == 404 and 'data-testid="store-closed"' in text(closed)


# --- product page ---


def test_product_page_shows_photos_specs_prices_and_stock(
    client, brand, store, brand_admin, product, sku, stock
):
    catalogue.product_image_add(brand=brand, staff=brand_admin, actor=SYS, product=product, upload=png())
    small = SkuFactory(brand=brand, product=product, code="HA-30", spec="30ml", list_price_fen=19900)
    InventoryFactory(brand=brand, store=store, sku=small, on_hand=0)
    with brand_scope(brand):
        type(product).objects.filter(pk=product.pk).update(description="清爽不黏腻\n\n每日早晚使用")

    response = client.get(url("shop-product", brand.slug, store.code, product.pk))
    assert response.status_code == 200
    body = text(response)
    assert "玻尿酸精华" in body and "清爽不黏腻" in body
    assert "¥299.00" in body and "¥199.00" in body
    assert re.search(r'<img src="/media/products/[^"]+\.jpg"', body)
    sold_out = re.search(
        r'data-testid="sku-HA-30">\s*<input type="radio" name="sku" value="(\d+)"( disabled)', body
    )
    assert sold_out and sold_out.group(1) == str(small.pk)
    assert response.context["chosen"].sku_id == sku.pk  # the one in stock is preselected


def test_product_page_404s(client, brand, store, other_brand, other_store, product, stock):
    other_product = ProductFactory(brand=other_brand)
    InventoryFactory(
        brand=other_brand, store=other_store, sku=SkuFactory(brand=other_brand, product=other_product)
    )
    not_here = ProductFactory(brand=brand)
    SkuFactory(brand=brand, product=not_here)
    assert client.get(url("shop-product", brand.slug, store.code, other_product.pk)).status_code == 404
    assert client.get(url("shop-product", brand.slug, store.code, not_here.pk)).status_code == 404
    assert client.get(url("shop-product", brand.slug, store.code, 999999)).status_code == 404
    assert client.get(url("shop-product", other_brand.slug, other_store.code, product.pk)).status_code == 404


# --- cart ---


def test_cart_add_update_and_remove(client, shop):
    brand, store, sku = shop["brand"], shop["store"], shop["sku"]
    cart_url = url("shop-cart", brand.slug, store.code)
    product_url = url("shop-product", brand.slug, store.code, shop["product"].pk)

    response = client.post(cart_url, {"op": "add", "sku": sku.pk, "qty": 2, "next": product_url})
    assert response.status_code == 302 and response["Location"] == product_url
    assert cart_items(client, brand) == {str(sku.pk): 2}
    add(client, brand, store, sku, 1)
    assert cart_items(client, brand) == {str(sku.pk): 3}

    page = client.get(cart_url)
    assert page.status_code == 200
    assert "¥897.00" in text(page) and 'data-testid="cart-count"' in text(page)

    partial = client.post(cart_url, {"op": "set", "sku": sku.pk, "qty": 5}, **HX)
    assert partial.status_code == 200 and "<html" not in text(partial)
    assert "¥1,495.00" in text(partial) and 'hx-swap-oob="outerHTML"' in text(partial)
    assert cart_items(client, brand) == {str(sku.pk): 5}

    client.post(cart_url, {"op": "set", "sku": sku.pk, "qty": 0}, **HX)  # the − button at 1
    assert cart_items(client, brand) == {}
    add(client, brand, store, sku, 1)
    removed = client.post(cart_url, {"op": "remove", "sku": sku.pk}, **HX)
    assert removed.status_code == 200 and cart_items(client, brand) == {}


def test_cart_refuses_bad_input_and_other_brands_skus(client, shop, other_brand, other_store):
    brand, store, sku = shop["brand"], shop["store"], shop["sku"]
    cart_url = url("shop-cart", brand.slug, store.code)
    foreign = SkuFactory(brand=other_brand)
    InventoryFactory(brand=other_brand, store=other_store, sku=foreign)
    unlisted = SkuFactory(brand=brand)

    assert add(client, brand, store, foreign).status_code == 404
    assert add(client, brand, store, unlisted).status_code == 404
    assert client.post(cart_url, {"op": "add", "sku": 99999999}).status_code == 404
    for bad in (
        {"op": "add", "sku": sku.pk, "qty": "two"},
        {"op": "add", "sku": sku.pk, "qty": 10**9},
        {"op": "add", "sku": "x"},
        {"op": "add"},
        {"op": "steal", "sku": sku.pk},
        {"op": "add", "sku": sku.pk, "qty": -1},
    ):
        response = client.post(cart_url, bad, **HX)
        assert response.status_code == 400, bad
        assert 'data-testid="cart-error"' in text(response)
    too_many = add(client, brand, store, sku, 11, **HX)  # 10 in stock
    assert too_many.status_code == 400 and "10" in text(too_many)
    assert client.post(cart_url, {"op": "set", "sku": sku.pk, "qty": 2}).status_code == 404  # not in the cart
    assert cart_items(client, brand) == {}
    assert (
        client.post(url("shop-cart", other_brand.slug, store.code), {"op": "add", "sku": sku.pk}).status_code
        == 404
    )
    assert client.get(url("shop-cart", brand.slug, other_store.code)).status_code == 404


def test_adding_goods_of_another_store_starts_a_new_cart(client, shop):
    brand, store, sku = shop["brand"], shop["store"], shop["sku"]
    second = StoreFactory(brand=brand, code="SH002", name="徐家汇店")
    InventoryFactory(brand=brand, store=second, sku=sku, on_hand=5)
    add(client, brand, store, sku, 2)
    add(client, brand, second, sku, 1)
    cart = client.session["carts"][str(brand.pk)]
    assert cart == {"store": second.pk, "items": {str(sku.pk): 1}}
    page = client.get(url("shop-cart", brand.slug, second.code))
    assert store.name in text(page)  # the notice names the store whose cart was replaced
    first = client.get(url("shop-cart", brand.slug, store.code))
    assert first.context["lines"] == [] and first.context["other_store"].pk == second.pk


# --- checkout as a member ---


def test_checkout_as_a_member_for_pickup(client, shop, member):
    brand, store, sku = shop["brand"], shop["store"], shop["sku"]
    as_shopper(client, brand, member)
    add(client, brand, store, sku, 2)
    page, key = checkout_form(client, brand, store)
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert 'data-testid="sum-total"' in text(page) and "¥598.00" in text(page)

    response = client.post(
        url("shop-checkout", brand.slug, store.code), {"fulfilment": "pickup", "checkout_key": key}
    )
    (order,) = orders_of(brand)
    assert order.member_id == member.pk and order.fulfilment == "pickup" and order.total_fen == 59800
    assert order.checkout_key == key and order.share_guide_id is None
    with brand_scope(brand):
        payment = Payment.objects.get(order=order)
        assert Inventory.objects.get(pk=shop["stock"].pk).reserved == 2
    assert response.status_code == 302
    assert response["Location"].startswith(url("pay-sim", brand.slug, payment.reference) + "?t=")
    assert cart_items(client, brand) == {}


def test_checkout_for_delivery_needs_an_address_and_charges_shipping(client, brand, store, member):
    cheap = SkuFactory(brand=brand, list_price_fen=3000)
    InventoryFactory(brand=brand, store=store, sku=cheap, on_hand=5)
    as_shopper(client, brand, member)
    add(client, brand, store, cheap, 1)
    page, key = checkout_form(client, brand, store)
    missing = client.post(
        url("shop-checkout", brand.slug, store.code), {"fulfilment": "ship", "checkout_key": key}
    )
    assert missing.status_code == 400
    assert set(missing.context["form"].errors) == {"recipient", "phone", "address"}
    assert orders_of(brand) == []

    summary = client.get(url("shop-checkout", brand.slug, store.code), {"fulfilment": "ship"}, **HX)
    assert "<html" not in text(summary) and "¥10.00" in text(summary) and "¥40.00" in text(summary)

    ok = client.post(
        url("shop-checkout", brand.slug, store.code),
        {
            "fulfilment": "ship",
            "checkout_key": key,
            "recipient": "李娜",
            "phone": "13711112222",
            "address": "上海市静安区南京西路1号",
            "note": "放门卫",
        },
    )
    assert ok.status_code == 302
    (order,) = orders_of(brand)
    assert (order.fulfilment, order.shipping_fen, order.total_fen) == ("ship", 1000, 4000)
    assert (order.recipient, order.address, order.note) == ("李娜", "上海市静安区南京西路1号", "放门卫")


def test_a_double_submit_gives_one_order(client, shop, member):
    brand, store = shop["brand"], shop["store"]
    as_shopper(client, brand, member)
    add(client, brand, store, shop["sku"], 1)
    _page, key = checkout_form(client, brand, store)
    data = {"fulfilment": "pickup", "checkout_key": key}
    first = client.post(url("shop-checkout", brand.slug, store.code), data)
    second = client.post(url("shop-checkout", brand.slug, store.code), data)
    (order,) = orders_of(brand)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == url("shop-order", brand.slug, order.number)
    with brand_scope(brand):
        assert Payment.objects.filter(order=order).count() == 1


def test_out_of_stock_at_checkout_is_explained_and_nothing_is_written(client, shop, member):
    brand, store, sku = shop["brand"], shop["store"], shop["sku"]
    as_shopper(client, brand, member)
    add(client, brand, store, sku, 3)
    rival = MemberFactory(brand=brand)
    checkout.checkout(
        brand=brand, store=store, member=rival, items=[(sku.pk, 8)], fulfilment="pickup", checkout_key="r"
    )
    response = place(client, brand, store)
    assert response.status_code == 400
    assert "out_of_stock" in error_codes(response)
    body = text(response)
    assert 'data-testid="checkout-error"' in body and "玻尿酸精华" in body
    assert url("shop-cart", brand.slug, store.code) in body
    assert len(orders_of(brand)) == 1  # the rival's only
    with brand_scope(brand):
        assert Inventory.objects.get(pk=shop["stock"].pk).reserved == 8
    assert cart_items(client, brand) == {str(sku.pk): 3}  # kept, to be changed


def test_checkout_refuses_a_used_or_unknown_coupon(client, shop, member):
    brand, store = shop["brand"], shop["store"]
    campaign = CampaignFactory(brand=brand, amount_off_fen=3000, threshold_fen=10000)
    coupon = promotions.coupon_issue(brand=brand, campaign=campaign, member=member, issued_by=None, actor=SYS)
    with brand_scope(brand):
        Coupon.objects.filter(pk=coupon.pk).update(status=Coupon.Status.USED, external_ref="POS-1")
    as_shopper(client, brand, member)
    add(client, brand, store, shop["sku"], 1)
    used = place(client, brand, store, coupon_code=coupon.code)
    assert used.status_code == 400 and "coupon_used" in error_codes(used)
    assert used.context["form"].errors["coupon_code"]
    unknown = place(client, brand, store, coupon_code="NOPE1234")
    assert unknown.status_code == 400 and "coupon_invalid" in error_codes(unknown)
    assert orders_of(brand) == []


def test_checkout_with_an_empty_cart_or_a_bad_key(client, shop, member):
    brand, store = shop["brand"], shop["store"]
    as_shopper(client, brand, member)
    empty = client.post(
        url("shop-checkout", brand.slug, store.code),
        {"fulfilment": "pickup", "checkout_key": uuid.uuid4().hex},
    )
    assert empty.status_code == 400 and "empty_cart" in error_codes(empty)
    add(client, brand, store, shop["sku"], 1)
    for key in ("", "x" * 32, "../../etc"):
        bad = client.post(
            url("shop-checkout", brand.slug, store.code), {"fulfilment": "pickup", "checkout_key": key}
        )
        assert bad.status_code == 400
    weird = client.post(
        url("shop-checkout", brand.slug, store.code),
        {"fulfilment": "drone", "checkout_key": uuid.uuid4().hex},
    )
    assert weird.status_code == 400
    assert orders_of(brand) == []


def test_checkout_at_a_closed_store(client, shop, member):
    brand, store = shop["brand"], shop["store"]
    as_shopper(client, brand, member)
    add(client, brand, store, shop["sku"], 1)
    _page, key = checkout_form(client, brand, store)
    with brand_scope(brand):
        Store.objects.filter(pk=store.pk).update(status=Store.Status.CLOSED)
    response = client.post(
        url("shop-checkout", brand.slug, store.code), {"fulfilment": "pickup", "checkout_key": key}
    )
    assert response.status_code == 404 and 'data-testid="store-closed"' in text(response)
    assert orders_of(brand) == []


# --- checkout after a guide's share link, with a phone code ---


def _verify(client, brand, store, phone, consent=True):
    code = send_code(client, brand, phone)
    data = {"phone": phone, "code": code}
    if consent:
        data["consent"] = "on"
    return client.post(url("shop-checkout", brand.slug, store.code), data)


def test_a_new_shopper_from_a_share_link_joins_at_checkout_and_the_order_is_attributed(client, shop, guide):
    brand, store, product = shop["brand"], shop["store"], shop["product"]
    link = share(brand, guide, store, kind="product", product=product)
    opened = client.get(url("share-open", brand.slug, link.code))
    assert opened.status_code == 302
    assert opened["Location"] == url("shop-product", brand.slug, store.code, product.pk)
    with brand_scope(brand):
        touch = Touch.objects.get(link=link)
        assert touch.member_id is None and touch.visitor
    assert client.session["touches"] == {str(brand.pk): [touch.pk]}

    add(client, brand, store, shop["sku"], 1)
    page = client.get(url("shop-checkout", brand.slug, store.code))
    assert page.status_code == 200 and 'data-testid="verify-phone"' in text(page)
    assert 'data-testid="checkout-form"' not in text(page)

    wrong = client.post(
        url("shop-checkout", brand.slug, store.code), {"phone": "13900001111", "code": "000000"}
    )
    assert wrong.status_code == 400
    with brand_scope(brand):
        assert not Member.objects.exists()

    verified = _verify(client, brand, store, "13900001111")
    assert verified.status_code == 302 and verified["Location"] == url(
        "shop-checkout", brand.slug, store.code
    )
    member = member_services.member_find(brand=brand, kind="phone", value="13900001111")
    assert member.guide_id == guide.pk and member.marketing_consent
    assert client.session[shopper.SESSION_KEY] == {str(brand.pk): member.pk}
    assert refresh(touch).member_id == member.pk and touch.exclusive_guide_id is None

    response = place(client, brand, store)
    assert response.status_code == 302
    (order,) = orders_of(brand)
    assert order.member_id == member.pk
    assert (
        order.share_guide_id == guide.pk
        and order.touch_id == touch.pk
        and order.exclusive_guide_id == guide.pk
    )


def test_an_existing_member_of_another_guide_keeps_that_guide(client, shop, guide, member, brand_admin):
    brand, store = shop["brand"], shop["store"]
    first_guide = StaffFactory(brand=brand, stores=[store], name="李娜")
    member_services.member_guide_set(
        brand=brand, staff=brand_admin, actor=SYS, member=member, guide=first_guide
    )
    with brand_scope(brand):
        phone = member.identities.get(kind="phone").value
    link = share(brand, guide, store, kind="store")
    opened = client.get(url("share-open", brand.slug, link.code))
    assert opened["Location"] == url("shop-store", brand.slug, store.code)
    add(client, brand, store, shop["sku"], 1)
    assert _verify(client, brand, store, phone, consent=False).status_code == 302
    assert refresh(member).guide_id == first_guide.pk
    response = place(client, brand, store)
    assert response.status_code == 302
    (order,) = orders_of(brand)
    with brand_scope(brand):
        touch = Touch.objects.get(link=link)
    assert order.member_id == member.pk and order.exclusive_guide_id == first_guide.pk
    assert order.share_guide_id == guide.pk and order.touch_id == touch.pk
    assert touch.member_id == member.pk and touch.exclusive_guide_id == first_guide.pk


def test_share_links_of_other_brands_or_unknown_codes_are_404(
    client, brand, other_brand, store, other_store, guide
):
    other_guide = StaffFactory(brand=other_brand, stores=[other_store])
    foreign = share(other_brand, other_guide, other_store, kind="store")
    assert client.get(url("share-open", brand.slug, foreign.code)).status_code == 404
    assert client.get(url("share-open", brand.slug, "NOSUCHCODE")).status_code == 404
    assert client.get(url("share-open", brand.slug, "x" * 40)).status_code == 404
    link = share(brand, guide, store, kind="store")
    assert client.post(url("share-open", brand.slug, link.code)).status_code == 405
    with brand_scope(other_brand):
        assert not Touch.objects.exists()


def test_the_session_keeps_the_last_twenty_touches(client, brand, store, guide):
    link = share(brand, guide, store, kind="store")
    for _i in range(23):
        client.get(url("share-open", brand.slug, link.code))
    ids = client.session["touches"][str(brand.pk)]
    with brand_scope(brand):
        newest = list(Touch.objects.order_by("-id").values_list("id", flat=True)[:20])
    assert len(ids) == 20 and sorted(ids) == sorted(newest)


# --- coupons ---


def test_claiming_a_coupon_through_a_share_link_and_using_it_at_checkout(client, shop, guide):
    brand, store = shop["brand"], shop["store"]
    campaign = CampaignFactory(brand=brand, name="新客满减", amount_off_fen=3000, threshold_fen=10000)
    link = share(brand, guide, store, kind="coupon", campaign=campaign)
    opened = client.get(url("share-open", brand.slug, link.code))
    coupon_url = url("shop-coupon", brand.slug, campaign.pk)
    assert opened["Location"] == f"{coupon_url}?via={link.code}"
    page = client.get(opened["Location"])
    assert page.status_code == 200
    assert "新客满减" in text(page) and "¥30.00" in text(page) and "¥100.00" in text(page)
    assert 'data-testid="verify-phone"' in text(page)

    code = send_code(client, brand, "13900002222")
    claimed = client.post(coupon_url, {"via": link.code, "phone": "13900002222", "code": code})
    assert claimed.status_code == 302 and claimed["Location"] == f"{coupon_url}?via={link.code}"
    member = member_services.member_find(brand=brand, kind="phone", value="13900002222")
    with brand_scope(brand):
        coupon = Coupon.objects.get(campaign=campaign)
    assert coupon.member_id == member.pk and coupon.issued_by_id == guide.pk
    assert member.guide_id == guide.pk  # joined through the guide's link
    after = client.get(claimed["Location"])
    assert coupon.code in text(after)

    again = client.post(coupon_url, {"via": link.code})  # one per member
    assert again.status_code == 400 and 'data-testid="coupon-error"' in text(again)
    with brand_scope(brand):
        assert Coupon.objects.filter(campaign=campaign).count() == 1

    add(client, brand, store, shop["sku"], 1)
    page, _key = checkout_form(client, brand, store)
    assert f'data-testid="coupon-{coupon.code}"' in text(page)
    preview = client.get(url("shop-checkout", brand.slug, store.code), {"coupon": coupon.code}, **HX)
    assert "¥269.00" in text(preview)
    response = place(client, brand, store, coupon=coupon.code)
    assert response.status_code == 302
    (order,) = orders_of(brand)
    assert (order.discount_fen, order.total_fen, order.coupon_id) == (3000, 26900, coupon.pk)
    assert refresh(coupon).status == Coupon.Status.HELD


def test_a_coupon_page_without_a_valid_link_has_no_issuer(client, brand, store, guide, member):
    campaign = CampaignFactory(brand=brand)
    other = CampaignFactory(brand=brand)
    wrong_link = share(brand, guide, store, kind="coupon", campaign=other)
    as_shopper(client, brand, member)
    response = client.post(url("shop-coupon", brand.slug, campaign.pk), {"via": wrong_link.code})
    assert response.status_code == 302
    with brand_scope(brand):
        assert Coupon.objects.get(campaign=campaign).issued_by_id is None


def test_coupon_pages_of_ended_and_other_brands_campaigns(client, brand, other_brand, member):
    ended = CampaignFactory(brand=brand, active=False)
    as_shopper(client, brand, member)
    page = client.get(url("shop-coupon", brand.slug, ended.pk))
    assert page.status_code == 200 and 'data-testid="campaign-ended"' in text(page)
    assert client.post(url("shop-coupon", brand.slug, ended.pk)).status_code == 400
    foreign = CampaignFactory(brand=other_brand)
    assert client.get(url("shop-coupon", brand.slug, foreign.pk)).status_code == 404
    assert client.post(url("shop-coupon", brand.slug, foreign.pk)).status_code == 404
    with brand_scope(brand):
        assert not Coupon.objects.exists()


def test_a_sold_out_campaign_says_so(client, brand, member):
    campaign = CampaignFactory(brand=brand, total_limit=1)
    promotions.coupon_issue(
        brand=brand, campaign=campaign, member=MemberFactory(brand=brand), issued_by=None, actor=SYS
    )
    as_shopper(client, brand, member)
    response = client.post(url("shop-coupon", brand.slug, campaign.pk))
    assert response.status_code == 400 and 'data-testid="coupon-error"' in text(response)


# --- the member's orders ---


def _order(brand, store, member, sku, fulfilment="pickup", key=None):
    return checkout.checkout(
        brand=brand,
        store=store,
        member=member,
        items=[(sku.pk, 1)],
        fulfilment=fulfilment,
        checkout_key=key or uuid.uuid4().hex,
        recipient="李娜",
        phone="13711112222",
        address="上海",
    )


def test_order_page_of_a_paid_pickup_order_shows_the_code_and_qr(client, shop, member):
    brand, store = shop["brand"], shop["store"]
    order = _order(brand, store, member, shop["sku"])
    pay(brand, order)
    order = refresh(order)
    as_shopper(client, brand, member)
    response = client.get(url("shop-order", brand.slug, order.number))
    assert response.status_code == 200
    body = text(response)
    assert 'data-testid="pickup-code" aria-label="' in body and order.pickup_code in body
    assert "<svg" in body and 'class="qr"' in body
    # The token is timestamped: compare what it says, not its bytes.
    token = signing.loads(response.context["pickup_token"], salt=order_status.PICKUP_SALT)
    assert token == {"o": order.pk, "c": order.pickup_code}
    assert 'data-status="paid"' in body and "¥299.00" in body
    assert 'data-testid="pay-now"' not in body


def test_another_shoppers_order_and_logged_out_visitors_get_404(client, shop, member, other_brand):
    brand, store = shop["brand"], shop["store"]
    order = _order(brand, store, member, shop["sku"])
    assert client.get(url("shop-order", brand.slug, order.number)).status_code == 404
    stranger = MemberFactory(brand=brand)
    as_shopper(client, brand, stranger)
    assert client.get(url("shop-order", brand.slug, order.number)).status_code == 404
    assert client.post(url("shop-order-pay", brand.slug, order.number)).status_code == 404
    assert client.get(url("shop-order", other_brand.slug, order.number)).status_code == 404
    with brand_scope(brand):
        assert not Payment.objects.exists()


def test_my_orders_needs_a_login_and_lists_my_orders(client, shop, member):
    brand, store = shop["brand"], shop["store"]
    response = client.get(url("shop-orders", brand.slug))
    assert response.status_code == 302
    assert response["Location"] == f"{url('shop-login', brand.slug)}?next={url('shop-orders', brand.slug)}"
    with brand_scope(brand):
        Inventory.objects.filter(pk=shop["stock"].pk).update(on_hand=50)
    mine = [_order(brand, store, member, shop["sku"]) for _i in range(12)]
    _order(brand, store, MemberFactory(brand=brand), shop["sku"])
    as_shopper(client, brand, member)
    page = client.get(url("shop-orders", brand.slug))
    numbers = [o.number for o in page.context["page"].object_list]
    assert len(numbers) == 10 and set(numbers) <= {o.number for o in mine}
    assert page.context["page"].paginator.count == 12


def test_a_partly_refunded_order_shows_the_refund_and_the_net_amount_not_the_staff_note(
    client, shop, member, brand_admin
):
    brand, store = shop["brand"], shop["store"]
    with brand_scope(brand):
        Inventory.objects.filter(pk=shop["stock"].pk).update(on_hand=50)
    order = _order(brand, store, member, shop["sku"])
    pay(brand, order)
    whole = _order(brand, store, member, shop["sku"])
    pay(brand, whole)
    for o, amount, note in ((order, 10000, ""), (whole, 29900, "包装破损，已为您全额退款")):
        refunds.refund_create(
            brand=brand,
            staff=brand_admin,
            actor=SYS,
            order=refresh(o),
            key=uuid.uuid4().hex,
            fingerprint="x",
            amount_fen=amount,
            reason="顾客态度差，内部备注",
            shopper_note=note,
        )
    as_shopper(client, brand, member)
    listing = text(client.get(url("shop-orders", brand.slug)))
    row = listing[listing.index(f'data-testid="order-{order.number}"') :]
    row = row[: row.index("</a>")]
    assert 'data-testid="order-partly-refunded"' in row
    assert "¥100.00" in row and "¥199.00" in row  # refunded, and what was kept paid
    full = listing[listing.index(f'data-testid="order-{whole.number}"') :]
    full = full[: full.index("</a>")]
    assert 'data-status="refunded"' in full and 'data-testid="order-partly-refunded"' not in full
    page = text(client.get(url("shop-order", brand.slug, order.number)))
    assert 'data-testid="order-partly-refunded"' in page
    assert 'data-testid="order-net">¥199.00<' in page and 'data-testid="order-refunded">-¥100.00<' in page
    # The staff's reason is an internal note: the shopper sees a neutral word or the shopper note.
    assert "内部备注" not in page and 'data-testid="refunds"' in page
    page = text(client.get(url("shop-order", brand.slug, whole.number)))
    assert "内部备注" not in page and "包装破损，已为您全额退款" in page


def test_shop_login_joins_or_logs_in_and_goes_back(client, brand, member):
    login_url = url("shop-login", brand.slug)
    with brand_scope(brand):
        phone = member.identities.get(kind="phone").value
    code = send_code(client, brand, phone)
    target = url("shop-orders", brand.slug)
    response = client.post(login_url, {"phone": phone, "code": code, "next": target})
    assert response.status_code == 302 and response["Location"] == target
    assert client.session[shopper.SESSION_KEY] == {str(brand.pk): member.pk}
    evil = client.get(login_url, {"next": "https://evil.example/"})
    assert evil["Location"] == target


# --- the payment simulator ---


def _checkout_and_open_cashier(client, shop, member):
    brand, store = shop["brand"], shop["store"]
    as_shopper(client, brand, member)
    add(client, brand, store, shop["sku"], 1)
    response = place(client, brand, store)
    cashier = client.get(response["Location"])
    assert cashier.status_code == 200
    (order,) = orders_of(brand)
    body = text(cashier)
    assert order.number in body and "¥299.00" in body
    for action in ("pay", "fail", "late", "twice"):
        assert f'name="action" value="{action}"' in body
    return order, response["Location"]


def test_simulator_pay(client, shop, member):
    order, cashier = _checkout_and_open_cashier(client, shop, member)
    response = client.post(cashier, {"action": "pay"})
    assert response["Location"] == url("shop-order", shop["brand"].slug, order.number)
    assert refresh(order).status == Order.Status.PAID
    page = client.get(response["Location"])
    assert 'data-testid="pickup-code"' in text(page)


def test_simulator_fail_then_pay_again(client, shop, member):
    brand = shop["brand"]
    order, cashier = _checkout_and_open_cashier(client, shop, member)
    client.post(cashier, {"action": "fail"})
    assert refresh(order).status == Order.Status.CREATED
    page = client.get(url("shop-order", brand.slug, order.number))
    assert 'data-testid="pay-failed"' in text(page) and 'data-testid="pay-now"' in text(page)
    again = client.post(url("shop-order-pay", brand.slug, order.number))
    assert again.status_code == 302 and again["Location"] != cashier
    client.post(again["Location"], {"action": "pay"})
    assert refresh(order).status == Order.Status.PAID
    with brand_scope(brand):
        assert sorted(Payment.objects.filter(order=order).values_list("status", flat=True)) == [
            "failed",
            "succeeded",
        ]


def test_simulator_twice_is_applied_once(client, shop, member):
    order, cashier = _checkout_and_open_cashier(client, shop, member)
    client.post(cashier, {"action": "twice"})
    order = refresh(order)
    assert order.status == Order.Status.PAID and order.paid_fen == order.total_fen
    with brand_scope(shop["brand"]):
        (payment,) = Payment.objects.filter(order=order)
    assert payment.status == Payment.Status.SUCCEEDED and payment.notifications == 2


def test_simulator_late_notice_waits_for_the_poll(client, shop, member):
    brand = shop["brand"]
    order, cashier = _checkout_and_open_cashier(client, shop, member)
    client.post(cashier, {"action": "late"})
    assert refresh(order).status == Order.Status.CREATED
    page = client.get(url("shop-order", brand.slug, order.number))
    assert 'data-testid="pay-confirming"' in text(page) and 'hx-trigger="every 4s"' in text(page)
    assert 'data-testid="pay-now"' in text(page)
    assert order_payments.payments_poll(brand=brand, older_than_seconds=0) == 1
    assert refresh(order).status == Order.Status.PAID
    settled = client.get(url("shop-order", brand.slug, order.number))
    assert 'data-testid="pay-confirming"' not in text(settled)
    assert client.post(cashier, {"action": "bogus"}).status_code == 400


def test_an_expired_order_cannot_be_paid(client, shop, member):
    brand, store = shop["brand"], shop["store"]
    order = _order(brand, store, member, shop["sku"])
    with brand_scope(brand):
        Order.objects.filter(pk=order.pk).update(reserved_until=order.created_at)
    as_shopper(client, brand, member)
    page = client.get(url("shop-order", brand.slug, order.number))
    assert 'data-testid="pay-expired"' in text(page) and 'data-testid="pay-now"' not in text(page)
    response = client.post(url("shop-order-pay", brand.slug, order.number))
    assert response["Location"] == url("shop-order", brand.slug, order.number)
    with brand_scope(brand):
        assert not Payment.objects.exists()


def test_yuan_filter():
    from cloudstore.templatetags.shop import distance
    from retail.money import yuan

    assert yuan(1234) == "¥12.34" and yuan(5) == "¥0.05" and yuan(123456) == "¥1,234.56"
    assert yuan(-300) == "-¥3.00" and yuan(None) == "—" and yuan(Decimal("100")) == "¥1.00"
    assert distance(1234.0).startswith("1.2") and distance(40.4).startswith("40")
