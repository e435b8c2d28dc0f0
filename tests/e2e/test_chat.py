"""Guide–shopper chat in two Chromium contexts over the real ASGI server (websockets): they write to
each other live, ticks turn to read, the shopper sends a photo, the guide sends a product card from
her store, the shopper opens it and buys (simulated payment), and the sale is credited to her.

Hooks are data-testid attributes, not wording."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from cloudstore.models import Order, Touch
from cloudstore.services import catalogue
from guides.messaging import conversations, links
from guides.messaging.models import CannedReply, Conversation, Message
from guides.models import Attribution, CommissionEntry
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.e2e.asgi_server import AsgiServer
from tests.factories import PASSWORD, InventoryFactory, ProductFactory, SkuFactory
from tests.helpers.browser import DESKTOP, PHONE, login, no_horizontal_overflow, shot, wait_for_animations
from tests.helpers.commission import join, rule
from tests.helpers.otp import last_code

pytestmark = pytest.mark.e2e


def photo(color, label: str) -> bytes:
    img = Image.new("RGB", (600, 600), color)
    draw = ImageDraw.Draw(img)
    draw.ellipse((170, 120, 430, 480), fill=tuple(min(255, c + 60) for c in color))
    draw.text((30, 30), label, fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def asgi_server(transactional_db):
    server = AsgiServer().start()
    yield server
    server.stop()


@pytest.fixture
def contexts(browser, asgi_server):
    opened = []

    def open_page(size: str):
        context = browser.new_context(
            base_url=asgi_server.url,
            viewport={"phone": PHONE, "laptop": {"width": 1280, "height": 800}, "desktop": DESKTOP}[size],
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            is_mobile=size == "phone",
            has_touch=size == "phone",
            device_scale_factor=1,
        )
        context.set_default_timeout(15_000)
        opened.append(context)
        page = context.new_page()
        page.size_name = size
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield open_page
    for context in opened:
        context.close()


def check(page, name: str):
    assert no_horizontal_overflow(page), f"{name} overflows at {page.size_name}"
    broken = page.evaluate(
        "Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0).map(i => i.src)"
    )
    assert not broken, f"broken images on {name}: {broken}"
    assert not page.errors, page.errors
    return shot(page, name)


def live(page):
    page.wait_for_selector("[data-testid=chat][data-live='1']")


@pytest.fixture
def shop(demo):
    brand, admin, guide, store = demo["brand"], demo["admin"], demo["guide"], demo["stores"][0]
    rule(brand, admin, rate_bp=800, name="全场 8%")
    serum = ProductFactory(brand=brand, name="玻尿酸精华液")
    sku = SkuFactory(brand=brand, product=serum, code="HA-50", spec="50ml", list_price_fen=29900)
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=10)
    catalogue.product_image_add(
        brand=brand,
        staff=admin,
        actor=Actor.system(),
        product=serum,
        upload=SimpleUploadedFile("ha.png", photo((40, 110, 200), "HA"), content_type="image/png"),
    )
    member = join(brand, guide, phone="13900007777", name="张晓雨")
    # Last week's conversation: more than a page, already read by both.
    conv = conversations.conversation_for_member(brand=brand, member=member)
    for i in range(32):
        sender = "member" if i % 2 else "guide"
        conversations.message_send(
            brand=brand,
            conversation=conv,
            sender=sender,
            staff=guide if sender == "guide" else None,
            body=f"以前的消息{i}",
            publish=False,
        )
    conversations.conversation_read(brand=brand, conversation=conv, side="guide")
    conversations.conversation_read(brand=brand, conversation=conv, side="member")
    with brand_scope(brand):
        CannedReply.objects.create(
            brand=brand, staff=guide, title="有货", body="有货的，今天下单明天就能到店自提～"
        )
    return {"serum": serum, "member": member, "store": store}


def test_guide_and_shopper_chat_live_and_a_product_card_leads_to_a_credited_sale(
    contexts, demo, shop, tmp_path
):
    brand, guide, member, serum = demo["brand"], demo["guide"], shop["member"], shop["serum"]

    # The guide opens her 消息 tab on her phone; the shopper opens the chat link from a notice.
    g = contexts("phone")
    login(g, "yy_guide1", PASSWORD)
    s = contexts("phone")
    s.goto(links.chat_link(brand, member))
    s.wait_for_url(f"**/s/{brand.slug}/chat/")
    live(s)
    assert s.inner_text("[data-testid=chat-title]").startswith(guide.name)

    s.fill("[data-testid=chat-input]", "你好，精华液还有货吗？")
    s.get_by_test_id("chat-send").click()
    # Acknowledged (stored): its tick shows (last week's messages of theirs have ticks too).
    s.wait_for_selector("li.mine[data-id]:has-text('精华液还有货吗') .tick")

    g.goto("/m/messages/")
    row = g.get_by_test_id(f"conv-{member.pk}")
    assert "张晓雨" in row.inner_text()
    expect(row.get_by_test_id("unread")).to_have_text("1")
    expect(g.get_by_test_id("tab-badge-messages")).to_have_text("1")
    # The open inbox counts up live, the row and the 消息 tab's badge alike.
    g.wait_for_selector("[data-testid=chat-inbox][data-live='1']")
    s.fill("[data-testid=chat-input]", "在吗？")
    s.get_by_test_id("chat-send").click()
    expect(row.get_by_test_id("unread")).to_have_text("2")
    expect(g.get_by_test_id("tab-badge-messages")).to_have_text("2")
    check(g, "chat-inbox")
    row.click()
    g.wait_for_url("**/m/messages/*/")
    live(g)
    g.wait_for_selector("li.theirs:has-text('精华液还有货吗')")

    # Live both ways: a quick reply from the guide...
    g.get_by_test_id("chat-more").click()
    g.get_by_test_id("tool-canned").click()
    g.locator("[data-testid=chat-canned] [data-canned]").first.click()
    assert "今天下单" in g.input_value("[data-testid=chat-input]")
    g.get_by_test_id("chat-send").click()
    s.wait_for_selector("li.theirs:has-text('今天下单明天就能到店自提')")
    # ...the shopper's page is open, so her message turns to read on the guide's side.
    g.wait_for_function(
        "Array.from(document.querySelectorAll('li.mine[data-sender=guide] .tick'))"
        ".some(t => t.textContent === '已读')"
    )
    # ...and the shopper's photo, shown to the guide (private, through her page).
    picture = tmp_path / "skin.png"
    picture.write_bytes(photo((200, 120, 90), "SKIN"))
    s.set_input_files("[data-testid=chat-image]", str(picture))
    g.wait_for_function(
        "Array.from(document.querySelectorAll('li.theirs[data-kind=image] img'))"
        ".some(i => i.complete && i.naturalWidth > 0)"
    )
    s.fill("[data-testid=chat-input]", "好的，我想要50ml的")
    s.get_by_test_id("chat-send").click()
    g.wait_for_selector("li.theirs:has-text('我想要50ml的')")

    # The guide sends the product card from her store.
    g.get_by_test_id("chat-more").click()
    g.get_by_test_id("tool-product").click()
    g.get_by_test_id(f"pick-{serum.pk}").wait_for()
    shot(g, "chat-product-picker")
    g.get_by_test_id(f"pick-{serum.pk}").click()
    g.wait_for_selector("li.mine[data-id] [data-testid=card-product]")
    card = s.locator("li.theirs [data-testid=card-product]")
    card.wait_for()
    assert "玻尿酸精华液" in card.inner_text() and "¥299.00" in card.inner_text()
    s.wait_for_function(
        "Array.from(document.querySelectorAll('[data-testid=card-product] img'))"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    check(g, "chat-guide")
    check(s, "chat-shopper")

    # The member panel: a drawer on the phone...
    g.get_by_test_id("panel-toggle").click()
    g.wait_for_function("document.body.classList.contains('chat-panel-open')")
    wait_for_animations(g)
    expect(g.get_by_test_id("chat-panel")).to_be_visible()
    assert "张晓雨" in g.get_by_test_id("chat-panel").inner_text()
    shot(g, "chat-guide-panel")
    # ...beside the chat on a laptop.
    d = contexts("laptop")
    login(d, "yy_guide1", PASSWORD)
    with brand_scope(brand):
        conv = Conversation.objects.get(member=member)
    d.goto(f"/m/messages/{conv.pk}/")
    live(d)
    panel, chat = d.get_by_test_id("chat-panel").bounding_box(), d.get_by_test_id("chat").bounding_box()
    assert panel["x"] >= chat["x"] + chat["width"] - 1 and panel["width"] >= 300
    check(d, "chat-guide")

    # Earlier messages page in from the history endpoint.
    shown = d.locator("li[data-id]").count()
    expect(d.get_by_test_id("chat-earlier")).to_be_visible()
    d.get_by_test_id("chat-earlier").click()
    d.wait_for_selector("li[data-id]:has-text('以前的消息0')")
    assert d.locator("li[data-id]").count() > shown
    assert d.get_by_test_id("chat-earlier").is_hidden()

    # The shopper opens the card and buys.
    card.get_by_test_id("card-link").click()
    s.wait_for_url(f"**/c/{brand.slug}/{shop['store'].code}/p/{serum.pk}/")
    s.get_by_test_id("add-to-cart").click()
    s.wait_for_selector("[data-testid=cart-count]:not([hidden])")
    s.get_by_test_id("cart-link").click()
    s.wait_for_url("**/cart/")
    s.get_by_test_id("to-checkout").click()
    s.wait_for_url("**/checkout/")
    if s.locator("[data-testid=verify-phone]").is_visible():
        s.fill("input[name=phone]", "13900007777")
        s.get_by_test_id("send-code").click()
        s.wait_for_function("document.querySelector('#code-status').innerText.includes('139****7777')")
        s.fill("input[name=code]", last_code())
        s.get_by_test_id("verify").click()
    s.wait_for_selector("[data-testid=checkout-form]")
    s.get_by_test_id("place-order").click()
    s.wait_for_url("**/pay/sim/**")
    s.get_by_test_id("sim-pay").click()
    s.wait_for_url(f"**/c/{brand.slug}/orders/*/")
    assert s.get_attribute("[data-testid=order-status]", "data-status") == "paid"

    with brand_scope(brand):
        order = Order.objects.get()
        touch = Touch.objects.get(member=member)
        attribution = Attribution.objects.get(order=order)
        credited = list(CommissionEntry.objects.filter(guide=guide, order=order))
        kinds = set(Message.objects.filter(conversation=conv).values_list("kind", flat=True))
    assert order.member_id == member.pk and order.status == Order.Status.PAID
    assert order.share_guide_id == guide.pk and order.touch_id == touch.pk and touch.guide_id == guide.pk
    assert attribution.guide_id == guide.pk
    assert [e.amount_fen for e in credited] == [29900 * 800 // 10000]
    assert {"text", "image", "product"} <= kinds
