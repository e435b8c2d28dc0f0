"""Commission on the guide's phone, in headless Chromium at phone size: a guide with a month of
sales (online and in store, one refunded) and last month's statement paid into the wallet opens my
performance from the home tab, the statement, the red packet it was paid with, the wallet record that
links back to it, and the notifications, which they mark read. Another guide's held statement and a
new guide's empty page.

Hooks are data-testid attributes, not wording: these pages' Chinese translations come separately."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from guides import selectors
from guides.models import Notification, Statement
from guides.services import settlement
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import PASSWORD, ProductFactory, SkuFactory, StaffFactory, UserFactory
from tests.helpers.browser import login, no_horizontal_overflow, shot
from tests.helpers.commission import external, join, refund, rule
from tests.helpers.packets import top_up

pytestmark = pytest.mark.e2e

# Members joined before the orders they are credited for (orders go back to the last period).
LONG_AGO = datetime.timedelta(days=75)


def check(page, name: str):
    assert no_horizontal_overflow(page), f"{name} overflows at {page.size_name}"
    shot(page, name)


@pytest.fixture
def month(demo):
    """王芳 (yy_guide1) at 上海南京西路店, 8 % commission: last month's sales settled, approved and
    paid from a funded pool; this month three members' orders online and at the till, one refunded.
    李娜 (yy_guide2) sold last month too; her statement is held."""
    brand, admin, guide, guide2 = demo["brand"], demo["admin"], demo["guide"], demo["guide2"]
    store, store2 = demo["stores"][0], demo["stores"][1]
    rule(brand, admin, rate_bp=800, name="全场 8%")
    essence = SkuFactory(brand=brand, product=ProductFactory(brand=brand, name="玻尿酸精华"), code="HA-50")
    cream = SkuFactory(
        brand=brand, product=ProductFactory(brand=brand, name="保湿面霜"), code="CR-30", list_price_fen=19900
    )
    zhang = join(brand, guide, name="张晓雨", since=LONG_AGO)
    liu = join(brand, guide, name="刘思琪", since=LONG_AGO)
    chen = join(brand, guide, name="陈佳怡", since=LONG_AGO)
    zhou = join(brand, guide2, name="周婷", since=LONG_AGO)

    # Last month: settled, approved, paid (李娜's held).
    start, end, label = settlement.last_complete_period(brand=brand)
    before = start + datetime.timedelta(days=10)
    external(brand, admin, "flagship", member=zhang, lines=[(essence, 2, 29900)], at=before)
    external(brand, admin, "pos", member=liu, store=store, lines=[(cream, 1, 19900)], at=before)
    external(brand, admin, "pos", member=zhou, store=store2, lines=[(essence, 1, 29900)], at=before)
    top_up(brand, admin, 1_000_000)
    period = settlement.period_close(brand=brand, start=start, end=end, label=label)
    with brand_scope(brand):
        held = Statement.objects.get(period=period, guide=guide2)
    settlement.statement_hold(
        brand=brand, staff=admin, actor=Actor.system(), statement=held, reason="退货单待门店核对"
    )
    settlement.period_approve(brand=brand, staff=admin, actor=Actor.system(), period=period)
    settlement.period_pay(brand=brand, period=period)

    # This month.
    now = timezone.now()
    external(brand, admin, "flagship", member=zhang, lines=[(cream, 1, 19900)], at=now)
    external(brand, admin, "flagship", member=chen, lines=[(essence, 1, 29900), (cream, 1, 19900)], at=now)
    till = external(brand, admin, "pos", member=liu, store=store, lines=[(essence, 1, 29900)], at=now)
    external(brand, admin, "pos", member=chen, store=store, lines=[(cream, 2, 19900)], at=now)
    refund(brand, admin, till, amount_fen=29900)
    with brand_scope(brand):
        paid = Statement.objects.get(period=period, guide=guide)
    return {**demo, "paid": paid, "held": held, "period": period}


def test_guide_reads_performance_statement_wallet_record_and_notifications(browse, month):
    brand, guide, paid = month["brand"], month["guide"], month["paid"]
    assert paid.status == "paid" and paid.packet_id
    with brand_scope(brand):
        unread = Notification.objects.filter(staff=guide, read_at__isnull=True).count()
    assert unread >= 3  # commission earned, taken back, statement paid

    page = browse.page("phone")
    login(page, "yy_guide1", PASSWORD)
    entry = page.get_by_test_id("performance-link")
    badge = entry.get_by_test_id("performance-unread").locator("span[aria-hidden=true]")
    assert badge.inner_text() == str(unread)
    check(page, "cm-home-entry")

    # My performance.
    entry.click()
    page.wait_for_url("**/m/performance/")
    assert page.get_by_test_id("unread-badge").inner_text() == str(unread)
    # Online: 199 + 299 + 199; in store: 299 refunded in full + 2 x 199.
    assert page.get_by_test_id("sales-online").inner_text() == "¥697.00"
    assert page.get_by_test_id("sales-offline").inner_text() == "¥398.00"
    assert page.get_by_test_id("earned-month").inner_text().replace("\n", "") == "¥111.52"  # 8 % of 1,394
    assert page.get_by_test_id("clawback-month").inner_text() == "-¥23.92"
    assert page.get_by_test_id("unsettled").inner_text() == "¥87.60"
    assert page.get_by_test_id("members-recruited").inner_text() == "3"
    assert page.get_by_test_id("recent").locator("li").count() == 7  # 6 credits, 1 taken back
    expect(page.get_by_test_id(f"statement-{paid.pk}")).to_be_visible()
    check(page, "cm-performance")

    # The statement, paid.
    page.get_by_test_id(f"statement-{paid.pk}").click()
    page.wait_for_url(f"**/m/performance/statements/{paid.pk}/")
    assert page.get_by_test_id("statement-status").get_attribute("data-status") == "paid"
    assert page.get_by_test_id("fig-total").inner_text() == "¥63.76"  # 8 % of 598 + 199
    assert page.get_by_test_id("statement-entries").locator("li").count() == 2
    check(page, "cm-statement-paid")

    # The red packet it was paid with (opened straight into the wallet).
    page.get_by_test_id("statement-packet-link").click()
    page.wait_for_url(f"**/m/wallet/packets/{paid.packet_id}/")
    check(page, "cm-commission-packet")

    # The wallet record of that payment links back to the statement.
    page.goto("/m/wallet/records/")
    record = page.get_by_test_id(f"record-statement-{paid.pk}")
    expect(record).to_be_visible()
    check(page, "cm-wallet-records")
    record.click()
    page.wait_for_url(f"**/m/performance/statements/{paid.pk}/")

    # Notifications: read them all.
    page.goto("/m/performance/")
    page.get_by_test_id("notifications-link").click()
    page.wait_for_url("**/m/notifications/")
    notes = page.get_by_test_id("notifications").locator("li")
    assert notes.count() == unread
    assert page.locator('[data-read="0"]').count() == unread
    check(page, "cm-notifications")
    page.get_by_test_id("mark-read").click()
    page.wait_for_url("**/m/notifications/")
    assert page.locator('[data-read="0"]').count() == 0
    assert page.get_by_test_id("mark-read").count() == 0
    check(page, "cm-notifications-read")
    # The statement-paid notification leads to the statement.
    page.locator(f'a[href="/m/performance/statements/{paid.pk}/"]').click()
    page.wait_for_url(f"**/m/performance/statements/{paid.pk}/")

    page.goto("/m/")
    assert page.get_by_test_id("performance-unread").count() == 0


def test_held_statement_and_a_new_guides_empty_page(browse, month):
    page = browse.page("phone")
    login(page, "yy_guide2", PASSWORD)
    page.goto("/m/performance/")
    held = month["held"]
    page.get_by_test_id(f"statement-{held.pk}").click()
    page.wait_for_url(f"**/m/performance/statements/{held.pk}/")
    assert page.get_by_test_id("statement-status").get_attribute("data-status") == "held"
    assert "退货单待门店核对" in page.get_by_test_id("hold-reason").inner_text()
    check(page, "cm-statement-held")
    # Someone else's statement is not found.
    response = page.goto(f"/m/performance/statements/{month['paid'].pk}/")
    assert response.status == 404

    # 周婷 returns last month's purchase: the next statement pays nothing and carries the debt on.
    brand, admin = month["brand"], month["admin"]
    with brand_scope(brand):
        order = Statement.objects.get(pk=held.pk).entries.get(kind="earn").order
    refund(brand, admin, order, amount_fen=order.total_fen)
    _start, _end, label = selectors.current_period(brand=brand)
    later = settlement.period_close(brand=brand, start=month["period"].end, end=timezone.now(), label=label)
    with brand_scope(brand):
        carried = Statement.objects.get(period=later, guide=month["guide2"])
    page.goto("/m/performance/")
    page.get_by_test_id(f"statement-{carried.pk}").click()
    page.wait_for_url(f"**/m/performance/statements/{carried.pk}/")
    assert page.get_by_test_id("statement-status").get_attribute("data-status") == "nothing"
    assert page.get_by_test_id("fig-carried-out").inner_text() == "¥23.92"
    check(page, "cm-statement-carried")

    newbie = StaffFactory(
        brand=month["brand"],
        user=UserFactory(username="yy_new", phone="13600000011", display_name="吴倩"),
        name="吴倩",
        role=Staff.Role.GUIDE,
        stores=[month["stores"][0]],
    )
    assert newbie.pk
    page = browse.page("phone")
    login(page, "yy_new", PASSWORD)
    page.goto("/m/performance/")
    expect(page.get_by_test_id("recent-empty")).to_be_visible()
    expect(page.get_by_test_id("statements-empty")).to_be_visible()
    check(page, "cm-performance-empty")
    page.goto("/m/notifications/")
    expect(page.get_by_test_id("notifications-empty")).to_be_visible()
    check(page, "cm-notifications-empty")
    assert re.search(r"/m/notifications/$", page.url)
