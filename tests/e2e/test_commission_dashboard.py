"""The commission pages of the brand dashboard in headless Chromium: a brand admin adds a commission
rule, saves a new version of the attribution rules, reads the reports with their charts and drills
into one guide, closes the last period, holds one statement with a reason, approves the period and
sees it paid; then the same pages at phone size. Screenshots go to
artifacts/screenshots/commission-dash-*.png.

Hooks are data-testid attributes and form names, not wording: the Chinese comes separately."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from guides import selectors
from guides.models import AttributionRule, CommissionRule, SettlementPeriod, Statement
from guides.services import rules as rule_services
from guides.services import settlement
from retail.tenancy import brand_scope
from tests.factories import PASSWORD, CategoryFactory, ProductFactory, SkuFactory
from tests.helpers.browser import login, no_horizontal_overflow, shot
from tests.helpers.commission import external, join
from tests.helpers.packets import balance, top_up

pytestmark = pytest.mark.e2e

# Members joined before the orders they are credited for (orders go back to the last period).
LONG_AGO = datetime.timedelta(days=75)


def check(page, name: str):
    assert no_horizontal_overflow(page), f"{name} overflows at {page.size_name}"
    assert page.evaluate(
        "Array.from(document.styleSheets).some(s => (s.href || '').includes('commission-dash.css'))"
    )
    page.evaluate("window.scrollTo(0, 0)")  # a full-page shot of a scrolled page misplaces sticky parts
    shot(page, name)


@pytest.fixture
def goods(demo):
    brand = demo["brand"]
    skin = CategoryFactory(brand=brand, name="护肤")
    serum = SkuFactory(
        brand=brand,
        product=ProductFactory(brand=brand, name="玻尿酸精华", category=skin),
        code="HA-50",
        spec="50ml",
        list_price_fen=29900,
    )
    cream = SkuFactory(
        brand=brand, product=ProductFactory(brand=brand, name="保湿面霜"), code="CR-30", list_price_fen=19900
    )
    return {"skin": skin, "serum": serum, "cream": cream}


def sell(demo, goods, last_start):
    """Orders over the last three weeks and in the last complete period, online and in store."""
    brand, admin = demo["brand"], demo["admin"]
    sh1, sh2 = demo["stores"][0], demo["stores"][1]
    guide, guide2, promoter = demo["guide"], demo["guide2"], demo["promoter"]
    member = join(brand, guide, name="李娜", since=LONG_AGO)
    member2 = join(brand, guide2, name="周婷", since=LONG_AGO)
    now = timezone.now()
    serum, cream = goods["serum"], goods["cream"]
    for k in range(0, 21):
        at = now - datetime.timedelta(days=k, hours=1)
        if k % 2 == 0:
            external(brand, admin, "flagship", member=member, lines=[(serum, 1, 29900)], at=at)
        if k % 3 == 0:
            external(brand, admin, "pos", store=sh1, served_by=guide, lines=[(cream, 2, 19900)], at=at)
        if k % 4 == 1:
            external(brand, admin, "pos", store=sh2, served_by=guide2, lines=[(serum, 1, 29900)], at=at)
        if k % 5 == 2:
            external(brand, admin, "flagship", member=member2, lines=[(cream, 1, 19900)], at=at)
        if k % 7 == 3:
            external(brand, admin, "pos", store=sh2, served_by=promoter, lines=[(cream, 1, 19900)], at=at)
    # The last complete period, whatever today is.
    for hours in (5, 30, 80):
        at = last_start + datetime.timedelta(hours=hours)
        external(brand, admin, "pos", store=sh1, served_by=guide, lines=[(serum, 1, 29900)], at=at)
        external(brand, admin, "pos", store=sh2, served_by=guide2, lines=[(cream, 1, 19900)], at=at)


def add_rule(page, *, name: str, rate: str, start: datetime.date, category=None, sku_code=None):
    page.goto("/dashboard/commission/rules/")
    page.get_by_test_id("new-rule").click()
    page.wait_for_url("**/dashboard/commission/rules/new/")
    page.fill("input[name=name]", name)
    page.locator("label:has(input[name=kind][value=percent])").click()
    expect(page.locator("input[name=fixed]")).to_be_hidden()  # only the chosen kind's amount
    page.fill("input[name=rate]", rate)
    if category is not None:
        page.select_option("select[name=category]", str(category.pk))
    if sku_code:
        page.fill("input[name=sku_code]", sku_code)
    page.fill("input[name=effective_from]", start.isoformat())
    page.get_by_test_id("save-rule").click()
    page.wait_for_url("**/dashboard/commission/rules/#rule-*")


def test_admin_sets_rules_reads_reports_and_settles_a_period(browse, demo, goods):
    brand, admin, guide, guide2 = demo["brand"], demo["admin"], demo["guide"], demo["guide2"]
    last_start, last_end, last_label = settlement.last_complete_period(brand=brand)
    page = browse.page("desktop")
    login(page, "yy_admin", PASSWORD)
    page.get_by_test_id("nav-commission").click()
    page.wait_for_url("**/dashboard/commission/")
    assert page.inner_text("[data-testid=total-commission]") == "¥0.00"
    check(page, "commission-dash-reports-empty")

    # A bad rate is refused on the page; nothing is saved.
    page.goto("/dashboard/commission/rules/new/")
    page.fill("input[name=name]", "全场")
    page.fill("input[name=rate]", "101")
    page.get_by_test_id("save-rule").click()
    expect(page.locator(".field.has-error input[name=rate]")).to_be_visible()
    check(page, "commission-dash-rule-error")
    with brand_scope(brand):
        assert CommissionRule.objects.count() == 0

    # 3 % on everything since before the last period; 5.5 % on skin care; 8 % on the serum.
    start = (last_start - datetime.timedelta(days=2)).astimezone(datetime.UTC).date()
    add_rule(page, name="全场 3%", rate="3", start=start)
    add_rule(page, name="护肤 5.5%", rate="5.5", start=start, category=goods["skin"])
    add_rule(page, name="精华 8%", rate="8", start=start, sku_code="HA-50")
    with brand_scope(brand):
        rows = {r.name: r for r in CommissionRule.objects.all()}
    assert (rows["护肤 5.5%"].rate_bp, rows["护肤 5.5%"].category_id) == (550, goods["skin"].pk)
    assert (rows["精华 8%"].rate_bp, rows["精华 8%"].sku_id) == (800, goods["serum"].pk)
    expect(page.get_by_test_id(f"rule-{rows['精华 8%'].pk}")).to_be_visible()
    check(page, "commission-dash-rules")

    # A new version of the attribution rules: the page says orders already attributed keep theirs
    # and offers to attribute a period again.
    page.goto("/dashboard/commission/attribution/")
    page.select_option("select[name=cloud_store]", "exclusive>touch")
    page.fill("input[name=touch_window_days]", "14")
    page.fill("input[name=note]", "专属导购优先")
    page.get_by_test_id("save-version").click()
    page.wait_for_url("**/dashboard/commission/attribution/?saved=*")
    expect(page.get_by_test_id("saved-callout")).to_be_visible()
    expect(page.get_by_test_id("reattribute-form")).to_be_visible()
    with brand_scope(brand):
        v2 = AttributionRule.objects.get(version=2)
    assert (v2.cloud_store, v2.touch_window_days, v2.note) == ("exclusive>touch", 14, "专属导购优先")
    check(page, "commission-dash-attribution")

    # Sales come in; the reports show them per day, guide and store.
    sell(demo, goods, last_start)
    top_up(brand, admin, 200_000)
    page.get_by_test_id("nav-commission").click()
    page.wait_for_url("**/dashboard/commission/")
    # The last three weeks, in the brand's commission time zone.
    tz = zoneinfo.ZoneInfo(rule_services.settings_get(brand=brand).timezone)
    today = timezone.now().astimezone(tz).date()
    first = today - datetime.timedelta(days=20)
    page.goto(f"/dashboard/commission/?date_from={first}&date_to={today}")
    assert page.locator("[data-testid=daily-chart] g.cd-day").count() == 21
    expect(page.get_by_test_id("daily-chart")).to_be_visible()
    expect(page.get_by_test_id("store-chart")).to_be_visible()
    assert page.inner_text("[data-testid=total-commission]") != "¥0.00"
    expect(page.get_by_test_id(f"guide-{guide.pk}")).to_be_visible()
    check(page, "commission-dash-reports")

    # Drill into guide 2: the chart shows only her days.
    page.get_by_test_id(f"drill-{guide2.pk}").click()
    page.wait_for_url(f"**guide={guide2.pk}*")
    assert page.inner_text("[data-testid=drill-guide]") == guide2.name
    days = page.locator("[data-testid=daily-chart] g.cd-day")
    drawn = [
        sum(int(days.nth(i).get_attribute(f"data-{k}")) for i in range(days.count()))
        for k in ("online", "offline", "commission")
    ]
    span = {"start": datetime.datetime.combine(first, datetime.time(), tzinfo=tz), "end": timezone.now()}
    [hers] = [r for r in selectors.report_by_guide(brand=brand, **span) if r["guide_id"] == guide2.pk]
    assert drawn == [hers["online_fen"], hers["offline_fen"], hers["commission_fen"]]
    assert drawn[0] > 0 and drawn[1] > 0
    check(page, "commission-dash-reports-guide")
    page.get_by_test_id("drill-clear").click()
    page.get_by_test_id("preset-last_month").click()
    page.wait_for_url("**date_from=*")

    # Close the last complete period, hold guide 2's statement, approve and see it paid.
    page.goto("/dashboard/commission/settlements/")
    check(page, "commission-dash-settlements")
    page.get_by_test_id("close-period").click()
    page.wait_for_url("**/dashboard/commission/settlements/*/")
    with brand_scope(brand):
        period = SettlementPeriod.objects.get(start=last_start)
        lines = {s.guide_id: s for s in Statement.objects.filter(period=period)}
    assert period.label == last_label and set(lines) >= {guide.pk, guide2.pk}
    held = lines[guide2.pk]
    # Holding without a reason is refused.
    page.get_by_test_id(f"hold-{held.pk}").click()
    page.get_by_test_id(f"hold-submit-{held.pk}").click()
    expect(page.locator(f"[data-testid=hold-form-{held.pk}] .field-error")).to_be_visible()
    page.fill(f"#hold-reason-{held.pk}", "门店调店，核对后再发")
    page.get_by_test_id(f"hold-submit-{held.pk}").click()
    page.wait_for_url(f"**#line-{held.pk}")
    assert page.get_attribute(f"[data-testid=line-{held.pk}]", "data-status") == "held"
    assert page.inner_text(f"[data-testid=reason-{held.pk}]") == "门店调店，核对后再发"
    check(page, "commission-dash-settlement-review")

    page.get_by_test_id("approve").click()
    page.wait_for_url("**/approve/")
    due = sum(s.total_fen for g, s in lines.items() if g != guide2.pk and s.status == "pending")
    assert page.inner_text("[data-testid=due]") == f"¥{due // 100:,}.{due % 100:02d}"
    check(page, "commission-dash-approve")
    page.get_by_test_id("approve-submit").click()
    page.wait_for_url(f"**/dashboard/commission/settlements/{period.pk}/")
    page.wait_for_selector("[data-testid=settle-live][data-status=paid]")
    assert page.get_attribute(f"[data-testid=line-{lines[guide.pk].pk}]", "data-status") == "paid"
    assert page.get_attribute(f"[data-testid=line-{held.pk}]", "data-status") == "held"
    expect(page.get_by_test_id(f"packet-{lines[guide.pk].pk}")).to_be_visible()
    with brand_scope(brand):
        assert Statement.objects.get(pk=lines[guide.pk].pk).status == "paid"
    assert balance(brand, guide) == lines[guide.pk].total_fen
    check(page, "commission-dash-settlement-paid")

    page.locator(f"[data-testid=line-{lines[guide.pk].pk}] a").first.click()
    page.wait_for_url(f"**/dashboard/commission/statements/{lines[guide.pk].pk}/")
    expect(page.get_by_test_id("statement-packet")).to_be_visible()
    check(page, "commission-dash-statement")


def test_the_commission_pages_work_at_phone_size(browse, demo, goods):
    brand, admin, guide2 = demo["brand"], demo["admin"], demo["guide2"]
    last_start, last_end, last_label = settlement.last_complete_period(brand=brand)
    from tests.helpers.commission import rule

    rule(brand, admin, name="全场 3%", rate_bp=300)
    rule(brand, admin, name="精华 8%", rate_bp=800, sku=goods["serum"].pk, cap_fen=2000)
    sell(demo, goods, last_start)
    top_up(brand, admin, 5_000)  # less than the period needs
    period = settlement.period_close(brand=brand, start=last_start, end=last_end, label=last_label)

    page = browse.page("phone")
    login(page, "yy_admin", PASSWORD)
    page.goto("/dashboard/commission/")
    expect(page.get_by_test_id("daily-chart")).to_be_visible()
    check(page, "commission-dash-reports")
    page.goto("/dashboard/commission/rules/")
    check(page, "commission-dash-rules")
    page.goto("/dashboard/commission/rules/new/")
    check(page, "commission-dash-rule-new")
    page.goto("/dashboard/commission/attribution/")
    check(page, "commission-dash-attribution")
    page.goto("/dashboard/commission/reattribute/")
    check(page, "commission-dash-reattribute")
    page.goto(f"/dashboard/commission/settlements/{period.pk}/")
    with brand_scope(brand):
        held = Statement.objects.get(period=period, guide=guide2)
    page.get_by_test_id(f"hold-{held.pk}").click()
    page.fill(f"#hold-reason-{held.pk}", "核对中")
    check(page, "commission-dash-settlement-hold")
    page.get_by_test_id(f"hold-submit-{held.pk}").click()
    page.wait_for_url(f"**#line-{held.pk}")
    check(page, "commission-dash-settlement")

    # Too little in the pool: a clear error, nothing approved.
    page.get_by_test_id("approve").click()
    page.wait_for_url("**/approve/")
    expect(page.get_by_test_id("approve-short")).to_be_visible()
    page.get_by_test_id("approve-submit").click()
    expect(page.get_by_test_id("approve-error")).to_be_visible()
    with brand_scope(brand):
        assert SettlementPeriod.objects.get(pk=period.pk).status == "review"
    check(page, "commission-dash-approve-short")
    page.goto("/dashboard/commission/settings/")
    check(page, "commission-dash-settings")
