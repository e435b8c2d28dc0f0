"""The cloud store in headless Chromium: a shopper opens a guide's product link on a phone, buys
with a phone code, pays in the simulator and gets a pickup code; the store finder uses the
browser's location; a store's goods on a desktop.

Hooks are data-testid attributes, not wording: these pages' Chinese translations come separately."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from cloudstore.models import Order, Touch
from cloudstore.services import catalogue, promotions
from retail.events import Actor
from retail.models import Store
from retail.tenancy import brand_scope
from tests.factories import CampaignFactory, CategoryFactory, InventoryFactory, ProductFactory, SkuFactory
from tests.helpers.browser import DESKTOP, PHONE, no_horizontal_overflow, shot
from tests.helpers.otp import last_code

pytestmark = pytest.mark.e2e
SYS = Actor.system()


def photo(color, label: str) -> SimpleUploadedFile:
    img = Image.new("RGB", (600, 600), color)
    draw = ImageDraw.Draw(img)
    draw.ellipse((170, 120, 430, 480), fill=tuple(min(255, c + 60) for c in color))
    draw.text((30, 30), label, fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return SimpleUploadedFile(f"{label}.png", buf.getvalue(), content_type="image/png")


def check(page, name: str):
    assert no_horizontal_overflow(page), f"{name} overflows at {page.size_name}"
    broken = page.evaluate(
        "Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0).map(i => i.src)"
    )
    assert not broken, f"broken images on {name}: {broken}"
    shot(page, name)


def located_page(browse, size: str, latitude: float, longitude: float):
    """A page whose browser grants geolocation at the given point."""
    context = browse.browser.new_context(
        base_url=browse.base_url,
        viewport=PHONE if size == "phone" else DESKTOP,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        is_mobile=size == "phone",
        has_touch=size == "phone",
        device_scale_factor=1,
        permissions=["geolocation"],
        geolocation={"latitude": latitude, "longitude": longitude},
    )
    context.set_default_timeout(10_000)
    browse.contexts.append(context)
    page = context.new_page()
    page.size_name = size
    return page


@pytest.fixture
def goods(demo):
    """Products at the Nanjing Road store: a serum with two sizes and photos, and more."""
    brand, admin, store = demo["brand"], demo["admin"], demo["stores"][0]
    care = CategoryFactory(brand=brand, name="护肤")
    makeup = CategoryFactory(brand=brand, name="彩妆")
    serum = ProductFactory(
        brand=brand,
        name="玻尿酸精华液",
        category=care,
        description="清爽不黏腻，深层补水。\n\n每日早晚洁面后使用。",
    )
    big = SkuFactory(brand=brand, product=serum, code="HA-50", spec="50ml", list_price_fen=29900)
    small = SkuFactory(brand=brand, product=serum, code="HA-30", spec="30ml", list_price_fen=19900)
    InventoryFactory(brand=brand, store=store, sku=big, on_hand=10)
    InventoryFactory(brand=brand, store=store, sku=small, on_hand=0)
    catalogue.product_image_add(
        brand=brand, staff=admin, actor=SYS, product=serum, upload=photo((40, 110, 200), "HA")
    )
    catalogue.product_image_add(
        brand=brand, staff=admin, actor=SYS, product=serum, upload=photo((30, 150, 140), "HA2")
    )
    names = [
        "水润保湿面霜",
        "温和洁面乳",
        "丝绒哑光口红 #888 限量版礼盒装（含唇刷）",
        "防晒隔离乳 SPF50+",
        "卸妆水",
        "眼霜",
        "气垫粉底",
        "睫毛膏",
        "修容盘",
        "护手霜",
        "爽肤水",
        "面膜（10片装）",
    ]
    for i, name in enumerate(names):
        product = ProductFactory(brand=brand, name=name, category=care if i % 2 else makeup)
        sku = SkuFactory(brand=brand, product=product, list_price_fen=5900 + i * 1250)
        InventoryFactory(brand=brand, store=store, sku=sku, on_hand=0 if i in (2, 7) else 20)
        if i % 3 == 0:
            catalogue.product_image_add(
                brand=brand,
                staff=admin,
                actor=SYS,
                product=product,
                upload=photo((180, 60 + i * 10, 90), f"P{i}"),
            )
    return {"serum": serum, "big": big, "store": store}


def test_shopper_buys_through_a_guides_link_and_picks_up(browse, demo, goods):
    brand, guide, store = demo["brand"], demo["guide"], goods["store"]
    link = promotions.share_link_get(
        brand=brand, guide=guide, kind="product", store=store, product=goods["serum"]
    )

    page = browse.page("phone")
    page.goto(f"/g/{brand.slug}/{link.code}/")
    page.wait_for_url(f"**/c/{brand.slug}/{store.code}/p/{goods['serum'].pk}/")
    assert "玻尿酸精华液" in page.inner_text("h1")
    assert page.inner_text("[data-testid=product-price]") == "¥299.00"
    assert page.locator("[data-testid=sku-HA-30] input").is_disabled()
    expect(page.locator("[data-testid=gallery] img").first).to_be_visible()
    check(page, "shop-product")

    page.get_by_test_id("add-to-cart").click()
    page.wait_for_selector("[data-testid=cart-count]:not([hidden])")
    assert page.inner_text("[data-testid=cart-count]") == "1"
    page.get_by_test_id("cart-link").click()
    page.wait_for_url(f"**/c/{brand.slug}/{store.code}/cart/")
    page.locator("[data-testid=line-HA-50] [data-testid=inc]").click()  # htmx: one more
    page.wait_for_function("document.querySelector('[data-testid=cart-subtotal]').innerText === '¥598.00'")
    assert page.input_value("[data-testid=line-HA-50] [data-testid=qty]") == "2"
    assert page.inner_text("[data-testid=cart-count]") == "2"
    check(page, "shop-cart")

    page.get_by_test_id("to-checkout").click()
    page.wait_for_url("**/checkout/")
    expect(page.locator("[data-testid=verify-phone]")).to_be_visible()
    page.fill("input[name=phone]", "139 0000 7777")
    page.get_by_test_id("send-code").click()
    page.wait_for_function("document.querySelector('#code-status').innerText.includes('139****7777')")
    check(page, "shop-checkout-verify")
    page.fill("input[name=code]", last_code())
    page.get_by_test_id("verify").click()
    page.wait_for_selector("[data-testid=checkout-form]")
    assert page.is_checked("[data-testid=fulfilment-pickup] input")
    expect(page.locator("input[name=address]")).to_be_hidden()
    page.locator("[data-testid=fulfilment-ship]").click()  # delivery shows the address fields
    expect(page.locator("input[name=address]")).to_be_visible()
    page.wait_for_selector("[data-testid=sum-shipping]")
    check(page, "shop-checkout-ship")
    page.locator("[data-testid=fulfilment-pickup]").click()
    page.wait_for_function("!document.querySelector('[data-testid=sum-shipping]')")
    assert page.inner_text("[data-testid=sum-total]") == "¥598.00"
    check(page, "shop-checkout")

    page.get_by_test_id("place-order").click()
    page.wait_for_url("**/pay/sim/**")
    assert page.inner_text("[data-testid=pay-amount]") == "¥598.00"
    check(page, "shop-pay-sim")
    page.get_by_test_id("sim-pay").click()
    page.wait_for_url(f"**/c/{brand.slug}/orders/*/")
    assert page.get_attribute("[data-testid=order-status]", "data-status") == "paid"
    code = page.inner_text("[data-testid=pickup-code]")
    assert re.fullmatch(r"\d{6}", code)
    qr = page.locator("[data-testid=pickup-qr] svg.qr")
    assert qr.is_visible() and qr.bounding_box()["width"] >= 200
    check(page, "shop-order")

    with brand_scope(brand):
        order = Order.objects.select_related("member").get()
        touch = Touch.objects.get()
    assert order.status == Order.Status.PAID and order.pickup_code == code
    assert order.share_guide_id == guide.pk and order.touch_id == touch.pk
    assert order.member.guide_id == guide.pk  # a new member, bound to the guide who shared

    page.get_by_test_id("my-orders").click()
    page.wait_for_url(f"**/c/{brand.slug}/orders/")
    assert order.number in page.inner_text("[data-testid=order-list]")
    check(page, "shop-orders")


def test_store_finder_uses_the_browsers_location(browse, demo, goods):
    brand = demo["brand"]
    sh1, sh2, bj1 = demo["stores"]
    with brand_scope(brand):
        Store.objects.filter(pk=sh1.pk).update(latitude="31.229400", longitude="121.455900")
        Store.objects.filter(pk=sh2.pk).update(latitude="31.195100", longitude="121.437100")
        Store.objects.filter(pk=bj1.pk).update(latitude="39.933800", longitude="116.454800")

    page = located_page(browse, "phone", 31.1930, 121.4350)  # by Xujiahui
    page.goto(f"/c/{brand.slug}/")
    page.wait_for_selector("[data-testid=store-list]")  # all stores, loaded after the first paint
    assert page.locator("[data-testid=store-list] .cell").count() == 3
    check(page, "shop-finder")
    page.get_by_test_id("locate").click()
    page.wait_for_url(re.compile(r".*lat=31\.193.*lng=121\.435.*"))
    cells = page.locator("[data-testid=nearest-stores] .cell")
    assert cells.count() == 3
    assert cells.nth(0).get_attribute("data-testid") == "store-SH002"
    assert cells.nth(1).get_attribute("data-testid") == "store-SH001"
    assert cells.nth(2).get_attribute("data-testid") == "store-BJ001"
    assert "上海徐家汇店" in cells.nth(0).inner_text()
    check(page, "shop-finder-nearest")
    cells.nth(1).click()
    page.wait_for_url(f"**/c/{brand.slug}/SH001/")
    assert page.locator("[data-testid=product-grid] li").count() == 13
    check(page, "shop-store")


def test_store_page_on_a_desktop(browse, demo, goods):
    brand, store = demo["brand"], goods["store"]
    page = browse.page("desktop")
    page.goto(f"/c/{brand.slug}/{store.code}/")
    grid = page.locator("[data-testid=product-grid] li")
    assert grid.count() == 13
    first, second = grid.nth(0).bounding_box(), grid.nth(1).bounding_box()
    assert first["y"] == second["y"]  # several goods a row
    sold_out = page.locator(".product-card.sold-out")
    assert sold_out.count() == 2 and sold_out.first.locator("[data-testid=sold-out]").is_visible()
    check(page, "shop-store")

    page.fill("[data-testid=product-search]", "精华")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=*")
    assert grid.count() == 1
    grid.first.click()
    page.wait_for_url(f"**/p/{goods['serum'].pk}/")
    check(page, "shop-product")


def test_shopper_claims_a_guides_coupon_with_a_phone_code(browse, demo, goods):
    brand, guide, store = demo["brand"], demo["guide"], goods["store"]
    campaign = CampaignFactory(brand=brand, name="新客满100减30", amount_off_fen=3000, threshold_fen=10000)
    link = promotions.share_link_get(brand=brand, guide=guide, kind="coupon", store=store, campaign=campaign)
    page = browse.page("phone")
    page.goto(f"/g/{brand.slug}/{link.code}/")
    page.wait_for_url(f"**/c/{brand.slug}/coupons/{campaign.pk}/?via={link.code}")
    assert "新客满100减30" in page.inner_text("[data-testid=campaign]")
    assert "王芳" in page.inner_text("[data-testid=campaign]")
    page.fill("input[name=phone]", "13900008888")
    page.get_by_test_id("send-code").click()
    page.wait_for_function("document.querySelector('#code-status').innerText.includes('139****8888')")
    check(page, "shop-coupon")
    page.fill("input[name=code]", last_code())
    page.get_by_test_id("claim").click()
    page.wait_for_selector("[data-testid=my-coupons]")
    with brand_scope(brand):
        coupon = campaign.coupons.get()
    assert page.inner_text("[data-testid=coupon-code]") == coupon.code and coupon.issued_by_id == guide.pk
    check(page, "shop-coupon-claimed")
