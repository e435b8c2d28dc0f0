"""The cloud store's staff pages in headless Chromium: on a phone a guide shares a product (link and
QR), a store manager hands over a pickup by its code, corrects stock with a reason and reads the
day's takings; on a desktop a brand admin builds a product with a SKU and a real photo, sets a store
price, creates a campaign and refunds one line of an order.

Hooks are data-testid attributes and form names, not wording: these pages' Chinese translations
come separately."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from cloudstore.models import Campaign, Inventory, Order, Product, ProductImage, Refund, ShareLink, Sku
from cloudstore.services import catalogue, checkout
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.factories import (
    PASSWORD,
    CampaignFactory,
    CategoryFactory,
    InventoryFactory,
    MemberFactory,
    ProductFactory,
    SkuFactory,
)
from tests.helpers.browser import assert_chinese, login, no_horizontal_overflow, shot
from tests.helpers.shop import pay
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.e2e
SYS = Actor.system()


def jpeg(path, color=(214, 92, 120), label="SG") -> str:
    """A real JPEG photo made with Pillow, saved at ``path``."""
    img = Image.new("RGB", (800, 800), (248, 240, 236))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((280, 160, 520, 680), radius=40, fill=color)
    draw.rectangle((330, 90, 470, 170), fill=(60, 60, 70))
    draw.text((360, 400), label, fill=(255, 255, 255))
    img.save(path, "JPEG", quality=88)
    return str(path)


def upload(color, label) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (500, 500), color).save(buf, "JPEG")
    return SimpleUploadedFile(f"{label}.jpg", buf.getvalue(), content_type="image/jpeg")


def check(page, name: str):
    assert no_horizontal_overflow(page), f"{name} overflows at {page.size_name}"
    broken = page.evaluate(
        "Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0).map(i => i.src)"
    )
    assert not broken, f"broken images on {name}: {broken}"
    assert_chinese(page)
    shot(page, name)


@pytest.fixture
def goods(demo):
    """Two products on sale at 上海南京西路店 (one running low), with photos."""
    brand, admin, store = demo["brand"], demo["admin"], demo["stores"][0]
    cat = CategoryFactory(brand=brand, name="护肤")
    serum = ProductFactory(brand=brand, name="玻尿酸保湿精华液", category=cat)
    cream = ProductFactory(brand=brand, name="修护面霜", category=cat)
    serum_sku = SkuFactory(brand=brand, product=serum, code="HA-50", spec="50ml", list_price_fen=29900)
    cream_sku = SkuFactory(brand=brand, product=cream, code="CR-30", spec="30g", list_price_fen=25800)
    InventoryFactory(brand=brand, store=store, sku=serum_sku, on_hand=20, price_fen=27900)
    InventoryFactory(brand=brand, store=store, sku=cream_sku, on_hand=3)
    catalogue.product_image_add(
        brand=brand, staff=admin, actor=SYS, product=serum, upload=upload((214, 92, 120), "s")
    )
    catalogue.product_image_add(
        brand=brand, staff=admin, actor=SYS, product=cream, upload=upload((90, 140, 200), "c")
    )
    return {"serum": serum, "cream": cream, "serum_sku": serum_sku, "cream_sku": cream_sku, "store": store}


def paid_order(brand, store, sku, *, qty=1, fulfilment="pickup", name="赵敏") -> Order:
    member = MemberFactory(brand=brand, name=name)
    extra = {}
    if fulfilment == "ship":
        extra = {"recipient": name, "phone": "13711112222", "address": "上海市静安区南京西路1618号"}
    order = checkout.checkout(
        brand=brand,
        store=store,
        member=member,
        items=[(sku.pk, qty)],
        fulfilment=fulfilment,
        checkout_key=uuid.uuid4().hex,
        **extra,
    )
    pay(brand, order)
    return refresh(order)


def test_guide_shares_a_product_on_a_phone(browse, demo, goods):
    brand, guide = demo["brand"], demo["guide"]
    page = browse.page("phone")
    login(page, "yy_guide1", PASSWORD)
    page.get_by_test_id("cs-goods-link").click()
    page.wait_for_url(f"**/m/store/{goods['store'].pk}/goods/")
    row = page.get_by_test_id(f"good-{goods['serum'].pk}")
    assert "玻尿酸保湿精华液" in row.inner_text() and "¥279.00" in row.inner_text()
    expect(page.get_by_test_id(f"good-{goods['cream'].pk}").locator(".badge-red")).to_be_visible()  # 3 left
    check(page, "cs-staff-goods")

    row.get_by_test_id(f"share-{goods['serum'].pk}").click()
    page.wait_for_url("**/m/store/shares/*/")
    with brand_scope(brand):
        link = ShareLink.objects.get(guide=guide, product=goods["serum"])
    url = page.input_value("[data-testid=share-link]")
    assert url.endswith(f"/g/{brand.slug}/{link.code}/")
    expect(page.locator("[data-testid=share-qr] svg")).to_be_visible()
    box = page.locator("[data-testid=share-qr] svg").bounding_box()
    assert box["width"] >= 200  # scannable across a counter
    assert page.inner_text("[data-testid=share-target]") == "玻尿酸保湿精华液"
    check(page, "cs-staff-share")

    # Sharing again gives the same link; the store page is shared the same way.
    page.go_back()
    page.get_by_test_id(f"share-{goods['serum'].pk}").click()
    page.wait_for_url(f"**/m/store/shares/{link.pk}/")
    page.goto(f"/m/store/{goods['store'].pk}/goods/")
    page.get_by_test_id("share-store").click()
    page.wait_for_url("**/m/store/shares/*/")
    # A coupon of a running campaign.
    campaign = CampaignFactory(brand=brand, name="满100减20")
    page.goto(f"/m/store/{goods['store'].pk}/goods/")
    page.locator(f"a[href='/m/store/{goods['store'].pk}/share/coupon/']").first.click()
    page.wait_for_url("**/share/coupon/")
    check(page, "cs-staff-share-coupon")
    page.get_by_test_id(f"campaign-{campaign.pk}").locator("button").click()
    page.wait_for_url("**/m/store/shares/*/")
    assert page.inner_text("[data-testid=share-target]") == "满100减20"

    page.goto("/m/store/shares/")
    expect(page.get_by_test_id(f"share-row-{link.pk}")).to_be_visible()
    with brand_scope(brand):
        assert ShareLink.objects.filter(guide=guide).count() == 3
    check(page, "cs-staff-shares")


def test_store_manager_hands_over_a_pickup_adjusts_stock_and_sees_takings(browse, demo, goods):
    brand, store = demo["brand"], goods["store"]
    pickup = paid_order(brand, store, goods["serum_sku"], qty=2)
    shipping = paid_order(brand, store, goods["cream_sku"], fulfilment="ship", name="孙丽")
    page = browse.page("phone")
    login(page, "yy_manager", PASSWORD)
    check(page, "cs-staff-home")

    page.goto("/m/store/")
    page.wait_for_url(f"**/m/store/{store.pk}/")
    assert page.inner_text("[data-testid=to-ship]") == "1"
    assert page.inner_text("[data-testid=pickups]") == "1"
    check(page, "cs-staff-hub")

    page.goto(f"/m/store/{store.pk}/orders/")
    expect(page.get_by_test_id(f"order-{shipping.pk}")).to_be_visible()
    check(page, "cs-staff-orders")

    # The shopper shows the pickup code; the manager types it in.
    page.goto("/m/")
    page.get_by_test_id("cs-pickup-link").click()
    page.wait_for_url(f"**/m/store/{store.pk}/pickup/")
    check(page, "cs-staff-pickup")
    page.fill("input[name=code]", "000000" if pickup.pickup_code != "000000" else "999999")
    page.get_by_test_id("confirm-pickup").click()
    expect(page.locator(".field-error")).to_be_visible()
    page.fill("input[name=code]", pickup.pickup_code)
    page.get_by_test_id("confirm-pickup").click()
    # First the order the code names, to check with the shopper; nothing has changed yet.
    page.get_by_test_id("pickup-check").wait_for()
    assert page.inner_text("[data-testid=pickup-order-number]") == pickup.number
    lines = page.inner_text("[data-testid=pickup-lines]")
    assert "玻尿酸保湿精华液" in lines and "×2" in lines
    assert page.inner_text("[data-testid=pickup-member]") == "赵敏"
    assert page.inner_text("[data-testid=pickup-amount]") == "¥558.00"
    assert refresh(pickup).status == Order.Status.PAID
    check(page, "cs-staff-pickup-check")
    page.get_by_test_id("confirm-handover").click()
    page.wait_for_url(f"**/m/store/{store.pk}/orders/{pickup.pk}/")
    expect(page.get_by_test_id("handed-over")).to_be_visible()
    assert refresh(pickup).status == Order.Status.PICKED_UP
    check(page, "cs-staff-picked-up")

    # Ship the delivery order.
    page.goto(f"/m/store/{store.pk}/orders/{shipping.pk}/")
    assert "137****2222" in page.inner_text("main")
    page.get_by_test_id("mark-shipped").click()
    page.wait_for_url(f"**/m/store/{store.pk}/orders/{shipping.pk}/")
    assert refresh(shipping).status == Order.Status.FULFILLED
    check(page, "cs-staff-order")

    # One jar of cream was damaged: adjust by -1 with a reason.
    page.goto("/m/")
    page.get_by_test_id("cs-stock-link").click()
    page.wait_for_url(f"**/m/store/{store.pk}/stock/")
    page.get_by_test_id("low-filter").click()
    page.wait_for_url("**low=1**")
    expect(page.get_by_test_id(f"stock-{goods['cream_sku'].pk}")).to_be_visible()
    expect(page.get_by_test_id(f"stock-{goods['serum_sku'].pk}")).to_be_hidden()
    check(page, "cs-staff-stock")
    page.get_by_test_id(f"stock-{goods['cream_sku'].pk}").click()
    page.locator("label:has(input[name=kind][value=adjust])").click()
    page.fill("input[name=quantity]", "-1")
    page.locator("form.form button[type=submit]").click()
    expect(page.locator(".field-error")).to_be_visible()  # the reason is required
    page.fill("input[name=reason]", "破损一瓶")
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"**/m/store/{store.pk}/stock/{goods['cream_sku'].pk}/")
    assert page.inner_text("[data-testid=on-hand]") == "1"  # 3 - 1 shipped - 1 damaged
    assert "破损一瓶" in page.inner_text("[data-testid=movements]")
    check(page, "cs-staff-stock-item")
    with brand_scope(brand):
        assert Inventory.objects.get(store=store, sku=goods["cream_sku"]).on_hand == 1

    # Today's takings: 2 × ¥279 picked up + ¥258 shipped (no shipping fee from ¥99).
    page.goto("/m/")
    page.get_by_test_id("cs-takings-link").click()
    page.wait_for_url(f"**/m/store/{store.pk}/takings/")
    assert page.inner_text("[data-testid=takings-net]") == "¥816.00"
    check(page, "cs-staff-takings")

    # The dashboard's orders and takings work on the manager's phone too.
    page.goto("/dashboard/orders/")
    expect(page.get_by_test_id(f"order-{pickup.pk}")).to_be_visible()
    check(page, "cs-dash-orders")
    page.goto("/dashboard/orders/takings/")
    assert page.inner_text("[data-testid=total-paid]") == "¥816.00"
    check(page, "cs-dash-takings")


def test_admin_builds_the_catalogue_and_refunds_a_line_on_a_desktop(browse, demo, goods, tmp_path):
    brand, store = demo["brand"], goods["store"]
    order = paid_order(brand, store, goods["serum_sku"], qty=2, fulfilment="ship", name="周琳")
    page = browse.page("desktop")
    login(page, "yy_admin", PASSWORD)

    # A category, then a new product in it with a SKU priced in yuan.
    page.goto("/dashboard/catalogue/categories/")
    page.fill("input[name=name]", "彩妆")
    page.locator("aside form button[type=submit]").click()
    page.wait_for_url("**/dashboard/catalogue/categories/")
    assert "彩妆" in page.inner_text("main table")
    check(page, "cs-dash-categories")
    page.goto("/dashboard/catalogue/")
    check(page, "cs-dash-products")
    page.get_by_test_id("new-product").click()
    page.fill("input[name=name]", "焕亮维C精华")
    page.select_option("select[name=category]", label="护肤")
    page.fill("textarea[name=description]", "每日焕亮，30ml。")
    page.get_by_test_id("save-product").click()
    page.wait_for_url("**/dashboard/catalogue/*/")
    with brand_scope(brand):
        product = Product.objects.get(name="焕亮维C精华")
    page.fill("form.cs-sku-form input[name=list_price]", "1.234")
    page.fill("form.cs-sku-form input[name=code]", "VC-30")
    page.get_by_test_id("add-sku").click()
    expect(page.locator("form.cs-sku-form .field-error")).to_be_visible()  # three decimals refused
    page.fill("form.cs-sku-form input[name=spec]", "30ml")
    page.fill("form.cs-sku-form input[name=list_price]", "399.00")
    page.get_by_test_id("add-sku").click()
    page.wait_for_url(f"**/dashboard/catalogue/{product.pk}/")
    expect(page.get_by_test_id("sku-VC-30")).to_be_visible()
    with brand_scope(brand):
        assert Sku.objects.get(code="VC-30").list_price_fen == 39900

    # A real photo, made with Pillow.
    page.set_input_files("input[name=image]", jpeg(tmp_path / "vc.jpg"))
    page.get_by_test_id("upload-photo").click()
    page.wait_for_url(f"**/dashboard/catalogue/{product.pk}/")
    thumb = page.locator("[data-testid=photos] img").first
    assert thumb.is_visible() and thumb.evaluate("i => i.naturalWidth") > 0
    with brand_scope(brand):
        assert ProductImage.objects.filter(product=product).count() == 1
    check(page, "cs-dash-product")

    # The store carries it at its own price.
    page.goto("/dashboard/catalogue/")
    page.locator("nav.subnav a").nth(2).click()
    page.wait_for_url("**/dashboard/catalogue/stores/*/")
    page.select_option("[data-testid=store-pick]", str(store.pk))
    page.locator("form.toolbar:has([data-testid=store-pick]) button").click()
    page.wait_for_url(f"**/dashboard/catalogue/stores/{store.pk}/")
    page.fill("input[name=sku_code]", "VC-30")
    page.locator("aside input[name=price]").fill("")
    page.locator("aside form button[type=submit]").click()
    page.wait_for_url(f"**/dashboard/catalogue/stores/{store.pk}/")
    row = page.get_by_test_id("stock-VC-30")
    row.locator("input.input").fill("369.00")
    row.locator("button[type=submit]").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=stock-VC-30]').classList.contains('row-flash')"
    )
    with brand_scope(brand):
        assert Inventory.objects.get(store=store, sku__code="VC-30").price_fen == 36900
    check(page, "cs-dash-store-stock")

    # A coupon campaign: ¥30 off from ¥300.
    page.goto("/dashboard/campaigns/")
    page.get_by_test_id("new-campaign").click()
    page.fill("input[name=name]", "满300减30")
    page.fill("input[name=amount_off]", "30")
    page.fill("input[name=threshold]", "300.00")
    page.fill("input[name=total_limit]", "500")
    expect(page.locator("input[name=percent_off]")).to_be_hidden()  # only the chosen kind's fields
    check(page, "cs-dash-campaign-form")
    page.get_by_test_id("save-campaign").click()
    page.wait_for_url("**/dashboard/campaigns/")
    with brand_scope(brand):
        campaign = Campaign.objects.get(name="满300减30")
    assert (campaign.amount_off_fen, campaign.threshold_fen, campaign.total_limit) == (3000, 30000, 500)
    expect(page.get_by_test_id(f"campaign-{campaign.pk}")).to_be_visible()
    check(page, "cs-dash-campaigns")

    # The order: refund one of the two serums, back on the shelf.
    page.goto("/dashboard/orders/")
    check(page, "cs-dash-orders")
    page.get_by_test_id(f"order-{order.pk}").locator("a").first.click()
    page.wait_for_url(f"**/dashboard/orders/{order.pk}/")
    with brand_scope(brand):
        line = order.lines.get()
    page.fill(f"input[name=qty_{line.pk}]", "3")
    page.fill("input[name=reason]", "顾客退回一瓶")
    page.get_by_test_id("refund-submit").click()
    expect(page.locator("#refund .alert-error")).to_be_visible()  # only 2 were bought
    with brand_scope(brand):
        assert Refund.objects.count() == 0
    page.fill(f"input[name=qty_{line.pk}]", "1")
    page.get_by_test_id("refund-submit").click()
    page.wait_for_url(f"**/dashboard/orders/{order.pk}/")
    assert page.inner_text("[data-testid=refunded]") == "¥279.00"
    assert "顾客退回一瓶" in page.inner_text("[data-testid=refunds]")
    order = refresh(order)
    assert order.refunded_fen == 27900
    with brand_scope(brand):
        assert Refund.objects.count() == 1
        assert Inventory.objects.get(store=store, sku=goods["serum_sku"]).on_hand == 19  # 20 - 2 + 1
    check(page, "cs-dash-order")

    page.goto("/dashboard/orders/takings/")
    assert page.inner_text("[data-testid=total-paid]") == "¥558.00"
    check(page, "cs-dash-takings")


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_admin_adds_a_stores_assortment_in_bulk(browse, demo, goods, tmp_path, size):
    """All SKUs on sale, then a CSV file: first with bad rows (reported, nothing added), then fixed."""
    brand, store = demo["brand"], demo["stores"][1]  # 上海徐家汇店 carries nothing yet
    extra = SkuFactory(brand=brand, product=goods["serum"], code="HA-30", spec="30ml", list_price_fen=19900)
    page = browse.page(size)
    login(page, "yy_admin", PASSWORD)
    page.goto(f"/dashboard/catalogue/stores/{store.pk}/")
    page.get_by_test_id("assortment-link").click()
    page.wait_for_url(f"**/dashboard/catalogue/stores/{store.pk}/assortment/")
    assert page.get_by_test_id("assortment-missing").get_attribute("data-missing") == "3"
    check(page, "cs-dash-assortment")

    bad = tmp_path / "bad.csv"
    bad.write_text("sku,price,stock\nHA-50,259.00,12\nNOPE-1,,\nHA-50,,\nCR-30,12.345,x\n", encoding="utf-8")
    page.set_input_files("input[name=file]", str(bad))
    page.get_by_test_id("assortment-upload").click()
    page.get_by_test_id("assortment-errors").wait_for()
    lines = page.locator("[data-testid=assortment-error-rows] tbody tr")
    assert lines.count() == 3
    assert [lines.nth(i).get_attribute("data-line") for i in range(3)] == ["3", "4", "5"]
    with brand_scope(brand):
        assert not Inventory.objects.filter(store=store).exists()
    check(page, "cs-dash-assortment-errors")

    good = tmp_path / "good.csv"
    good.write_text("sku,price,stock\nHA-50,259.00,12\nCR-30,,4\n", encoding="utf-8")
    page.set_input_files("input[name=file]", str(good))
    page.get_by_test_id("assortment-upload").click()
    page.wait_for_url(f"**/dashboard/catalogue/stores/{store.pk}/assortment/")
    expect(page.locator(".alert-success")).to_be_visible()
    assert page.get_by_test_id("assortment-missing").get_attribute("data-missing") == "1"
    page.get_by_test_id("assortment-add-all").click()
    page.wait_for_url(f"**/dashboard/catalogue/stores/{store.pk}/assortment/")
    with brand_scope(brand):
        have = {
            i.sku.code: (i.price_fen, i.on_hand)
            for i in Inventory.objects.filter(store=store).select_related("sku")
        }
    assert have == {"HA-50": (25900, 12), "CR-30": (None, 4), extra.code: (None, 0)}
    assert page.get_by_test_id("assortment-missing").get_attribute("data-missing") == "0"
    check(page, "cs-dash-assortment-done")
