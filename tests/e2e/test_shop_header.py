"""The shop's header on a 390 px phone, in English and Chinese: the brand name is not cut off, the
navigation stays reachable, and nothing overflows sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import BrandFactory, InventoryFactory, SkuFactory, StoreFactory
from tests.helpers.browser import no_horizontal_overflow, shot

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(("locale", "lang"), [("en-US", "en"), ("zh-CN", "zh")])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_shop_header_shows_the_whole_brand_name(browse, transactional_db, locale, lang, size):
    brand = BrandFactory(name="Yueyan Beauty Lab", slug="yueyan-lab")
    store = StoreFactory(brand=brand, code="SH001", name="Nanjing West Road")
    InventoryFactory(brand=brand, store=store, sku=SkuFactory(brand=brand), on_hand=5)
    page = browse.page(size, locale=locale)
    page.goto(f"/c/{brand.slug}/")
    if lang == "en":  # the shop speaks Chinese until the shopper switches
        page.get_by_test_id("lang-en").click()
        page.wait_for_load_state()
    assert page.evaluate("document.documentElement.lang").startswith(lang)
    for path in (f"/c/{brand.slug}/{store.code}/", f"/c/{brand.slug}/"):
        page.goto(path)
        name = page.locator("[data-testid=shop-brand] .nm")
        assert name.inner_text() == "Yueyan Beauty Lab"
        # Not cut off: the name's box holds all of its text.
        assert name.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), f"brand name truncated at {size}"
        for hook in ("my-orders", "member-card-link"):
            link = page.get_by_test_id(hook)
            expect(link).to_be_visible()
            assert link.get_attribute("aria-label")
        assert no_horizontal_overflow(page)
    shot(page, f"shop-header-{lang}")
