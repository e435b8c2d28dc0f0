"""The commission pages of the brand dashboard: reports (tables, SVG charts, drill-down, CSV),
commission rules, attribution rule versions and re-attribution, settlement settings, and settlement
(closing a period, holding and releasing statements, approving and paying).

Assertions read data (context, data-testid hooks, database rows), not wording: the Chinese comes
separately."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from guides.models import (
    AttributionRule,
    CommissionEntry,
    CommissionRule,
    CommissionSettings,
    Reattribution,
    SettlementPeriod,
    Statement,
)
from guides.services import rules as rule_services
from guides.services import settlement
from redpackets.models import Account, RedPacket
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import CategoryFactory, StaffFactory, StoreFactory
from tests.helpers.auth import login_as
from tests.helpers.commission import committed, external, join, on_the_books, refund, rule
from tests.helpers.packets import balance, top_up
from tests.helpers.pages import count, csv_rows, key

pytestmark = pytest.mark.django_db

REPORTS = reverse("dash-commission")
EXPORT = reverse("dash-commission-export")
RULES = reverse("dash-commission-rules")
RULE_NEW = reverse("dash-commission-rule-new")
ATTRIBUTION = reverse("dash-commission-attribution")
REATTRIBUTE = reverse("dash-commission-reattribute")
SETTLEMENTS = reverse("dash-commission-settlements")
SETTINGS = reverse("dash-commission-settings")


def fetch(brand, model, **filters):
    with brand_scope(brand):
        return model.objects.get(**filters)


def ids(rows, key_name: str) -> list:
    return [r[key_name] for r in rows]


@pytest.fixture
def store_b(brand):
    return StoreFactory(brand=brand, code="BJ001", name="三里屯店")


@pytest.fixture
def guide_b(brand, store_b):
    return on_the_books(StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store_b], name="赵敏"))


@pytest.fixture
def sales(brand, brand_admin, store, store_b, guide, guide_b, sku):
    """5 % on everything. This month: an online order of ¥100 for ``guide`` (her member), a POS sale of
    ¥200 at her store; a POS sale of ¥300 by ``guide_b`` at store B."""
    rule(brand, brand_admin, rate_bp=500)
    member = join(brand, guide)
    online = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 10000)])
    pos = external(brand, brand_admin, "pos", store=store, served_by=guide, lines=[(sku, 1, 20000)])
    pos_b = external(brand, brand_admin, "pos", store=store_b, served_by=guide_b, lines=[(sku, 1, 30000)])
    return {"member": member, "online": online, "pos": pos, "pos_b": pos_b}


@pytest.fixture
def last_period(brand):
    start, end, label = settlement.last_complete_period(brand=brand)
    return {"start": start, "end": end, "label": label}


@pytest.fixture
def closed(brand, brand_admin, store, store_b, guide, guide_b, sku, last_period):
    """Last period: ``guide`` earned ¥10 (5 % of ¥200), ``guide_b`` ¥4.50 (5 % of ¥90); closed."""
    rule(brand, brand_admin, rate_bp=500)
    at = last_period["start"] + datetime.timedelta(hours=3)
    external(brand, brand_admin, "pos", store=store, served_by=guide, lines=[(sku, 1, 20000)], at=at)
    external(brand, brand_admin, "pos", store=store_b, served_by=guide_b, lines=[(sku, 1, 9000)], at=at)
    period = settlement.period_close(
        brand=brand, start=last_period["start"], end=last_period["end"], label=last_period["label"]
    )
    with brand_scope(brand):
        lines = {s.guide_id: s for s in Statement.objects.filter(period=period)}
    return {"period": period, "line": lines[guide.pk], "line_b": lines[guide_b.pk]}


def other_brand_objects(other_brand, other_admin):
    """Another brand's rule, closed period and statement."""
    o_store = StoreFactory(brand=other_brand, code="HZ009", name="别家门店")
    o_guide = on_the_books(
        StaffFactory(brand=other_brand, role=Staff.Role.GUIDE, stores=[o_store], name="别家导购")
    )
    o_rule = rule(other_brand, other_admin, rate_bp=300)
    start, end, label = settlement.last_complete_period(brand=other_brand)
    from tests.factories import ProductFactory, SkuFactory

    with brand_scope(other_brand):
        product = ProductFactory(brand=other_brand, name="别家商品")
        o_sku = SkuFactory(brand=other_brand, product=product, code="O-1", list_price_fen=100)
    external(
        other_brand,
        other_admin,
        "pos",
        store=o_store,
        served_by=o_guide,
        lines=[(o_sku, 1, 10000)],
        at=start + datetime.timedelta(hours=1),
    )
    period = settlement.period_close(brand=other_brand, start=start, end=end, label=label)
    with brand_scope(other_brand):
        statement = Statement.objects.get(period=period)
    return {"rule": o_rule, "period": period, "statement": statement, "guide": o_guide, "store": o_store}


# --- who may see what -----------------------------------------------------------------------------------


def test_every_page_opens_for_a_brand_admin(client, brand_admin, sales, closed):
    login_as(client, brand_admin)
    period, line = closed["period"], closed["line"]
    for url in (
        REPORTS,
        RULES,
        RULE_NEW,
        ATTRIBUTION,
        REATTRIBUTE,
        SETTINGS,
        SETTLEMENTS,
        reverse("dash-commission-settlement", args=[period.pk]),
        reverse("dash-commission-approve", args=[period.pk]),
        reverse("dash-commission-statement", args=[line.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"commission-dash.css" in response.content, url
        assert b'data-testid="nav-commission"' in response.content, url
        assert response.context["nav"] == "commission", url
    for by in ("guide", "store"):
        response = client.get(EXPORT, {"by": by})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")


def test_guides_are_refused_everywhere(client, brand, guide, sales, closed):
    login_as(client, guide)
    period, line = closed["period"], closed["line"]
    with brand_scope(brand):
        a_rule = CommissionRule.objects.first()
    gets = [
        REPORTS,
        EXPORT,
        RULES,
        RULE_NEW,
        ATTRIBUTION,
        REATTRIBUTE,
        SETTINGS,
        SETTLEMENTS,
        reverse("dash-commission-settlement", args=[period.pk]),
        reverse("dash-commission-approve", args=[period.pk]),
        reverse("dash-commission-statement", args=[line.pk]),
    ]
    for url in gets:
        assert client.get(url).status_code == 403, url
    posts = {
        RULE_NEW: {"name": "x", "kind": "percent", "rate": "5"},
        reverse("dash-commission-rule-end", args=[a_rule.pk]): {},
        ATTRIBUTION: {"cloud_store": "none", "flagship": "none", "pos": "none", "touch_window_days": 7},
        REATTRIBUTE: {"date_from": "2025-01-01", "date_to": "2025-01-02", "reason": "x"},
        SETTINGS: {"period": "weekly", "timezone": "UTC"},
        SETTLEMENTS: {},
        reverse("dash-commission-approve", args=[period.pk]): {"key": key()},
        reverse("dash-commission-hold", args=[line.pk]): {"reason": "x"},
        reverse("dash-commission-release", args=[line.pk]): {},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    assert count(brand, CommissionRule) == 2 and count(brand, CommissionRule, effective_to__isnull=False) == 0
    assert count(brand, AttributionRule) <= 1 and count(brand, Reattribution) == 0
    assert fetch(brand, SettlementPeriod, pk=period.pk).status == "review"
    assert fetch(brand, Statement, pk=line.pk).status == "pending"


def test_store_managers_see_the_reports_of_their_stores_only(
    client, brand, store, store_b, store_manager, guide, guide_b, sales, closed
):
    login_as(client, store_manager)
    page = client.get(REPORTS)
    assert page.status_code == 200
    ctx = page.context
    assert ids(ctx["by_guide"], "guide_id") == [guide.pk]
    assert ids(ctx["by_store"], "store_id") == [store.pk]
    # Her online order counts for her store (dual credit); store B's ¥300 does not show.
    assert ctx["totals"]["sales_fen"] == 30000 and ctx["totals"]["commission_fen"] == 1500
    assert sum(d["offline_fen"] for d in ctx["days"]) == 20000
    body = page.content.decode()
    assert f'data-testid="guide-{guide_b.pk}"' not in body and "三里屯店" not in body
    # Another store of the brand is not theirs to pick.
    assert client.get(REPORTS, {"store": store_b.pk}).status_code == 404
    rows = csv_rows(client.get(EXPORT, {"by": "store"}))
    assert [r[0] for r in rows[1:]] == [store.name]
    rows = csv_rows(client.get(EXPORT, {"by": "guide"}))
    assert [r[0] for r in rows[1:]] == [guide.name]
    # Their subnav offers reports only; the rest is for brand admins.
    assert reverse("dash-commission-rules").encode() not in page.content
    for url in (
        RULES,
        ATTRIBUTION,
        REATTRIBUTE,
        SETTINGS,
        SETTLEMENTS,
        reverse("dash-commission-settlement", args=[closed["period"].pk]),
        reverse("dash-commission-statement", args=[closed["line"].pk]),
    ):
        assert client.get(url).status_code == 403, url
    assert (
        client.post(reverse("dash-commission-hold", args=[closed["line"].pk]), {"reason": "x"}).status_code
        == 403
    )


def test_another_brands_ids_are_not_found(client, brand, brand_admin, other_brand, other_admin, closed):
    theirs = other_brand_objects(other_brand, other_admin)
    login_as(client, brand_admin)
    period, statement = theirs["period"], theirs["statement"]
    for url in (
        reverse("dash-commission-settlement", args=[period.pk]),
        reverse("dash-commission-approve", args=[period.pk]),
        reverse("dash-commission-statement", args=[statement.pk]),
    ):
        assert client.get(url).status_code == 404, url
    posts = [
        (reverse("dash-commission-rule-end", args=[theirs["rule"].pk]), {}),
        (reverse("dash-commission-approve", args=[period.pk]), {"key": key()}),
        (reverse("dash-commission-hold", args=[statement.pk]), {"reason": "查一下"}),
        (reverse("dash-commission-release", args=[statement.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 404, url
    assert client.get(REPORTS, {"guide": theirs["guide"].pk}).status_code == 404
    assert client.get(REPORTS, {"store": theirs["store"].pk}).status_code == 404
    with brand_scope(other_brand):
        assert CommissionRule.objects.get(pk=theirs["rule"].pk).effective_to is None
        assert SettlementPeriod.objects.get(pk=period.pk).status == "review"
        assert Statement.objects.get(pk=statement.pk).status == "pending"
    # Nor do their periods show in ours.
    assert f'data-testid="period-{period.pk}"'.encode() not in client.get(SETTLEMENTS).content


# --- reports --------------------------------------------------------------------------------------------


def test_the_reports_show_guides_stores_days_and_totals(
    client, brand, brand_admin, store, store_b, guide, guide_b, sales
):
    login_as(client, brand_admin)
    response = client.get(REPORTS)
    ctx = response.context
    assert ctx["totals"] == {
        "orders": 3,
        "online_fen": 10000,
        "offline_fen": 50000,
        "commission_fen": 3000,
        "sales_fen": 60000,
        "rate": "5.00%",
    }
    by_guide = {r["guide_id"]: r for r in ctx["by_guide"]}
    assert (by_guide[guide.pk]["online_fen"], by_guide[guide.pk]["offline_fen"]) == (10000, 20000)
    assert by_guide[guide_b.pk]["commission_fen"] == 1500
    by_store = {r["store_id"]: r for r in ctx["by_store"]}
    assert by_store[store.pk]["commission_fen"] == 1500 and by_store[store_b.pk]["orders"] == 1
    # The default range is this month, in the brand's commission time zone, up to today.
    tz = zoneinfo.ZoneInfo(rule_services.settings_get(brand=brand).timezone)
    today = timezone.now().astimezone(tz).date()
    assert (ctx["start"], ctx["end"]) == (today.replace(day=1), today)
    assert [d["day"] for d in ctx["days"]][-1] == today
    body = response.content.decode()
    assert body.count('class="cd-day"') == today.day
    day = re.search(
        rf'data-day="{today:%Y-%m-%d}" data-online="(\d+)" data-offline="(\d+)" data-commission="(\d+)"', body
    )
    assert day.groups() == ("10000", "50000", "3000")
    assert 'data-testid="store-chart"' in body
    assert ("<polyline" in body) == (today.day > 1)  # one day: a dot, not a line
    assert body.count('class="cd-store-row"') == 2


def test_refunds_come_off_the_reported_sales_and_commission(client, brand, brand_admin, sales):
    refund(brand, brand_admin, sales["pos_b"], amount_fen=10000)
    login_as(client, brand_admin)
    totals = client.get(REPORTS).context["totals"]
    assert (totals["sales_fen"], totals["commission_fen"]) == (50000, 2500)


def test_a_date_range_and_presets(client, brand, brand_admin, sales):
    login_as(client, brand_admin)
    ctx = client.get(REPORTS, {"date_from": "2020-01-01", "date_to": "2020-01-31"}).context
    assert ctx["totals"]["orders"] == 0 and len(ctx["days"]) == 31
    assert [d["online_fen"] for d in ctx["days"]] == [0] * 31
    presets = {p["key"]: p for p in ctx["presets"]}
    assert presets["7d"]["end"] - presets["7d"]["start"] == datetime.timedelta(days=6)
    assert presets["last_month"]["end"] == presets["month"]["start"] - datetime.timedelta(days=1)
    # A preset link gives this month's figures back.
    p = presets["month"]
    ctx = client.get(REPORTS, {"date_from": p["start"].isoformat(), "date_to": p["end"].isoformat()}).context
    assert ctx["totals"]["orders"] == 3


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2025-02-10", "date_to": "2025-02-01"},  # end before start
        {"date_from": "2023-01-01", "date_to": "2025-01-01"},  # over a year
        {"date_from": "not-a-day"},
    ],
)
def test_bad_report_ranges_are_form_errors(client, brand_admin, sales, params):
    login_as(client, brand_admin)
    response = client.get(REPORTS, params)
    assert response.status_code == 400
    assert response.context["form"].errors
    assert b'data-testid="filter-errors"' in response.content
    # The page still shows this month.
    assert response.context["totals"]["orders"] == 3


def test_clicking_a_guide_filters_the_daily_chart_to_them(client, brand_admin, guide, guide_b, sales):
    login_as(client, brand_admin)
    everyone = client.get(REPORTS)
    query = everyone.context["query"]
    assert f'href="?{escape(query)}&amp;guide={guide_b.pk}#daily"' in everyone.content.decode()
    response = client.get(REPORTS + f"?{everyone.context['query']}&guide={guide_b.pk}")
    ctx = response.context
    assert ctx["guide"] == guide_b
    assert sum(d["offline_fen"] for d in ctx["days"]) == 30000
    assert sum(d["online_fen"] for d in ctx["days"]) == 0
    assert ctx["guide_total"]["commission_fen"] == 1500
    # The tables still show everyone; the chosen row is marked.
    assert len(ctx["by_guide"]) == 2
    assert b'data-testid="drill"' in response.content
    assert "guide=" not in ctx["query"]


def test_only_the_top_guides_are_listed_and_the_drilled_one_stays(
    client, brand_admin, guide, guide_b, sales, monkeypatch
):
    from guides.views import dashboard

    monkeypatch.setattr(dashboard, "GUIDES_SHOWN", 1)
    login_as(client, brand_admin)
    ctx = client.get(REPORTS).context
    assert len(ctx["by_guide"]) == 1 and ctx["guides_more"] == 1
    assert ctx["totals"]["orders"] == 3  # the totals still count everyone
    [top] = ctx["by_guide"]
    other = guide_b if top["guide_id"] == guide.pk else guide
    ctx = client.get(REPORTS, {"guide": other.pk}).context
    assert [r["guide_id"] for r in ctx["by_guide"]] == [top["guide_id"], other.pk]


def test_the_reports_export_as_csv(client, brand, brand_admin, store, store_b, guide, guide_b, sales):
    with brand_scope(brand):
        Staff.objects.filter(pk=guide_b.pk).update(name="=HYPERLINK(1)")
    login_as(client, brand_admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(EXPORT, {"by": "guide"})
    assert response.streaming
    assert 'filename="commission-by-guide-yueyan-' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == [
        "Guide",
        "Orders",
        "Online sales (¥)",
        "Offline sales (¥)",
        "Sales (¥)",
        "Commission (¥)",
    ]
    assert sorted(rows[1:]) == sorted(
        [
            [guide.name, "2", "100.00", "200.00", "300.00", "15.00"],
            ["'=HYPERLINK(1)", "1", "0.00", "300.00", "300.00", "15.00"],
        ]
    )
    rows = csv_rows(client.get(EXPORT, {"by": "store"}))
    assert sorted(r[:3] + r[-1:] for r in rows[1:]) == sorted(
        [[store.name, "2", "1", "15.00"], [store_b.name, "1", "1", "15.00"]]
    )
    # The range applies; another grouping is refused.
    rows = csv_rows(client.get(EXPORT, {"by": "guide", "date_from": "2020-01-01", "date_to": "2020-01-02"}))
    assert len(rows) == 1
    assert client.get(EXPORT, {"by": "member"}).status_code == 400
    assert (
        client.get(EXPORT, {"by": "guide", "date_from": "2025-02-02", "date_to": "2025-02-01"}).status_code
        == 400
    )


# --- commission rules -------------------------------------------------------------------------------------


def test_a_percentage_rule_for_a_sku_is_saved_in_basis_points(client, brand, brand_admin, sku):
    login_as(client, brand_admin)
    page = client.get(RULE_NEW)
    assert f'<option value="{sku.code}">'.encode() in page.content  # the SKU pick list
    response = client.post(
        RULE_NEW,
        {
            "name": "精华 5.5%",
            "kind": "percent",
            "rate": "5.5",
            "cap": "20",
            "channel": "flagship",
            "sku_code": sku.code.lower(),
            "effective_from": "2030-06-01",
            "effective_to": "2030-06-30",
        },
    )
    row = fetch(brand, CommissionRule, name="精华 5.5%")
    assert response.status_code == 302 and response["Location"].endswith(f"#rule-{row.pk}")
    assert (row.kind, row.rate_bp, row.fixed_fen, row.cap_fen, row.channel) == (
        "percent",
        550,
        0,
        2000,
        "flagship",
    )
    assert row.sku_id == sku.pk and row.category_id is None
    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    assert row.effective_from == datetime.datetime(2030, 6, 1, tzinfo=tz)
    assert row.effective_to == datetime.datetime(2030, 7, 1, tzinfo=tz)  # the end of the last day
    listing = client.get(RULES)
    assert [r.pk for r in listing.context["current"]] == [row.pk]
    assert listing.context["current"][0].state == "scheduled"
    assert "5.5%" in listing.content.decode()


def test_a_fixed_amount_rule_for_a_category(client, brand, brand_admin, category):
    login_as(client, brand_admin)
    response = client.post(
        RULE_NEW, {"name": "护肤每件", "kind": "fixed", "fixed": "3.50", "rate": "", "category": category.pk}
    )
    assert response.status_code == 302
    row = fetch(brand, CommissionRule, name="护肤每件")
    assert (row.kind, row.rate_bp, row.fixed_fen, row.cap_fen) == ("fixed", 0, 350, None)
    assert row.category_id == category.pk and row.channel == ""
    assert row.effective_from <= timezone.now() and row.effective_to is None
    assert client.get(RULES).context["current"][0].state == "active"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rate": "abc"}, "rate"),
        ({"rate": "101"}, "rate"),
        ({"rate": "0"}, "rate"),
        ({"rate": "-5"}, "rate"),
        ({"rate": "5.555"}, "rate"),
        ({"rate": "1e1"}, "rate"),
        ({"rate": ""}, "rate"),
        ({"kind": "fixed", "fixed": ""}, "fixed"),
        ({"kind": "fixed", "fixed": "1.234"}, "fixed"),
        ({"name": "  "}, "name"),
        ({"cap": "-1"}, "cap"),
        ({"effective_from": "2030-06-10", "effective_to": "2030-06-01"}, "effective_to"),
        ({"effective_to": "2020-01-01"}, "effective_to"),  # ends before now, its start
        ({"sku_code": "NOPE"}, "sku_code"),
        ({"sku_code": "HA-50", "category": "__category__"}, "sku_code"),
        ({"category": "999999"}, "category"),
        ({"channel": "fax"}, "channel"),
    ],
)
def test_bad_rule_input_is_a_form_error_and_saves_nothing(
    client, brand, brand_admin, sku, category, data, field
):
    login_as(client, brand_admin)
    form = {"name": "规则", "kind": "percent", "rate": "5", **data}
    if form.get("category") == "__category__":
        form["category"] = category.pk
    response = client.post(RULE_NEW, form)
    assert response.status_code == 400
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert count(brand, CommissionRule) == 0


def test_another_brands_category_and_sku_cannot_be_chosen(client, brand, brand_admin, other_brand):
    their_category = CategoryFactory(brand=other_brand, name="别家分类")
    login_as(client, brand_admin)
    response = client.post(
        RULE_NEW, {"name": "x", "kind": "percent", "rate": "5", "category": their_category.pk}
    )
    assert response.status_code == 400 and response.context["form"].errors.get("category")
    assert count(brand, CommissionRule) == 0


def test_ending_a_rule(client, brand, brand_admin, sku):
    row = rule(brand, brand_admin, name="全场 5%", rate_bp=500)
    login_as(client, brand_admin)
    response = client.post(reverse("dash-commission-rule-end", args=[row.pk]))
    assert response.status_code == 302
    ended = fetch(brand, CommissionRule, pk=row.pk)
    assert ended.effective_to is not None and ended.effective_to <= timezone.now()
    listing = client.get(RULES).context
    assert [r.pk for r in listing["ended"]] == [row.pk] and listing["current"] == []
    # Ending again changes nothing and says why.
    again = client.post(reverse("dash-commission-rule-end", args=[row.pk]), follow=True)
    assert [m.level_tag for m in again.context["messages"]] == ["error"]
    assert fetch(brand, CommissionRule, pk=row.pk).effective_to == ended.effective_to
    assert client.get(reverse("dash-commission-rule-end", args=[row.pk])).status_code == 405


# --- attribution rules, re-attribution, settings ---------------------------------------------------------


def test_a_new_attribution_version_and_the_offer_to_attribute_again(client, brand, brand_admin):
    login_as(client, brand_admin)
    page = client.get(ATTRIBUTION)
    current = page.context["current"]
    assert current.version == 1
    assert page.context["form"]["cloud_store"].value() == current.cloud_store
    response = client.post(
        ATTRIBUTION,
        {
            "cloud_store": "exclusive>touch",
            "flagship": "exclusive",
            "pos": "none",
            "touch_window_days": "7",
            "min_order": "9.90",
            "dual_credit_store": "on",
            "note": "六月新规",
        },
    )
    row = fetch(brand, AttributionRule, version=2)
    assert response.status_code == 302
    assert response["Location"] == f"{ATTRIBUTION}?saved={row.pk}#reattribute"
    assert (row.cloud_store, row.flagship, row.pos) == ("exclusive>touch", "exclusive", "none")
    assert (row.touch_window_days, row.min_order_fen, row.note) == (7, 990, "六月新规")
    assert row.dual_credit_store is True and row.exclude_staff_purchases is False
    assert row.created_by_id == brand_admin.pk
    after = client.get(response["Location"])
    assert after.context["saved"] == row and after.context["current"] == row
    assert b'data-testid="saved-callout"' in after.content
    assert b'data-testid="reattribute-form"' in after.content
    assert [v.version for v in after.context["versions"]] == [2, 1]
    assert [m.level_tag for m in after.context["messages"]] == ["success"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"touch_window_days": "31"}, "touch_window_days"),
        ({"touch_window_days": "0"}, "touch_window_days"),
        ({"pos": "whoever"}, "pos"),
        ({"min_order": "-1"}, "min_order"),
        ({"effective_from": "someday"}, "effective_from"),
    ],
)
def test_bad_attribution_versions_are_form_errors(client, brand, brand_admin, data, field):
    login_as(client, brand_admin)
    form = {"cloud_store": "touch", "flagship": "touch", "pos": "served>exclusive", "touch_window_days": "7"}
    response = client.post(ATTRIBUTION, {**form, **data})
    assert response.status_code == 400 and response.context["form"].errors.get(field)
    assert count(brand, AttributionRule) == 1  # the default version only


def test_attributing_a_period_again(client, brand, brand_admin, guide, sales):
    login_as(client, brand_admin)
    today = timezone.localdate()
    with committed():
        response = client.post(
            REATTRIBUTE,
            {
                "date_from": (today - datetime.timedelta(days=1)).isoformat(),
                "date_to": (today + datetime.timedelta(days=1)).isoformat(),
                "reason": "规则调整",
            },
        )
    assert response.status_code == 302
    run = fetch(brand, Reattribution)
    assert run.status == "done" and run.orders == 3 and run.changed == 0 and run.reason == "规则调整"
    assert run.end - run.start == datetime.timedelta(days=3)
    page = client.get(REATTRIBUTE)
    assert page.context["runs"] == [run] and page.context["busy"] is False
    assert b'data-testid="run-' in page.content and b"hx-trigger" not in page.content


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"date_from": "2025-03-10", "date_to": "2025-03-01"}, "date_to"),
        ({"reason": ""}, "reason"),
        ({"reason": "x" * 201}, "reason"),
        ({"date_from": "2023-01-01", "date_to": "2025-01-01"}, "date_to"),  # over 400 days
        ({"date_to": ""}, "date_to"),
    ],
)
def test_bad_re_attribution_requests_are_form_errors(client, brand, brand_admin, data, field):
    login_as(client, brand_admin)
    form = {"date_from": "2025-03-01", "date_to": "2025-03-31", "reason": "复核", **data}
    response = client.post(REATTRIBUTE, form)
    assert response.status_code == 400 and response.context["form"].errors.get(field)
    assert count(brand, Reattribution) == 0


def test_one_re_attribution_at_a_time(client, brand, brand_admin):
    with brand_scope(brand):
        Reattribution.objects.create(
            brand=brand, start=timezone.now() - datetime.timedelta(days=2), end=timezone.now(), reason="x"
        )
    login_as(client, brand_admin)
    response = client.post(REATTRIBUTE, {"date_from": "2025-03-01", "date_to": "2025-03-02", "reason": "y"})
    assert response.status_code == 400 and response.context["form"].non_field_errors()
    assert count(brand, Reattribution) == 1
    # While one runs the list refreshes itself.
    assert b'hx-trigger="every 2s"' in client.get(REATTRIBUTE).content


def test_the_settlement_settings(client, brand, brand_admin):
    login_as(client, brand_admin)
    assert client.get(SETTINGS).context["form"]["period"].value() == "monthly"
    response = client.post(SETTINGS, {"period": "weekly", "timezone": "Asia/Tokyo", "greeting": "本周佣金"})
    assert response.status_code == 302
    row = fetch(brand, CommissionSettings)
    assert (row.period, row.timezone, row.greeting) == ("weekly", "Asia/Tokyo", "本周佣金")
    assert re.fullmatch(r"\d{4}-W\d{2}", client.get(SETTINGS).context["period_label"])
    for bad in ({"period": "daily", "timezone": "UTC"}, {"period": "weekly", "timezone": "Mars/Olympus"}):
        assert client.post(SETTINGS, bad).status_code == 400
    assert fetch(brand, CommissionSettings).timezone == "Asia/Tokyo"


# --- settlement -------------------------------------------------------------------------------------------


def test_closing_the_last_complete_period(
    client, brand, brand_admin, guide, guide_b, store, sku, last_period
):
    rule(brand, brand_admin, rate_bp=1000)
    at = last_period["start"] + datetime.timedelta(days=1)
    external(brand, brand_admin, "pos", store=store, served_by=guide, lines=[(sku, 2, 5000)], at=at)
    login_as(client, brand_admin)
    page = client.get(SETTLEMENTS)
    assert page.context["last"]["closed"] is False and b'data-testid="close-period"' in page.content
    response = client.post(SETTLEMENTS)
    period = fetch(brand, SettlementPeriod)
    assert response.status_code == 302 and response["Location"] == reverse(
        "dash-commission-settlement", args=[period.pk]
    )
    assert (period.label, period.statements, period.total_fen, period.status) == (
        last_period["label"],
        1,
        1000,
        "review",
    )
    line = fetch(brand, Statement, period=period)
    assert (line.guide_id, line.orders, line.sales_fen, line.earned_fen, line.total_fen) == (
        guide.pk,
        1,
        10000,
        1000,
        1000,
    )
    # Closing again changes nothing; the button is gone.
    client.post(SETTLEMENTS)
    assert count(brand, SettlementPeriod) == 1 and count(brand, Statement) == 1
    page = client.get(SETTLEMENTS)
    assert page.context["last"]["closed"] is True and b'data-testid="close-period"' not in page.content
    assert list(page.context["page"].object_list) == [period]


def test_a_statement_is_held_with_a_reason_and_released(client, brand, brand_admin, closed):
    line, period = closed["line"], closed["period"]
    login_as(client, brand_admin)
    hold = reverse("dash-commission-hold", args=[line.pk])
    for bad in ("", "   ", "x" * 201):
        response = client.post(hold, {"reason": bad})
        assert response.status_code == 400
        assert response.context["hold_for"] == line.pk and response.context["hold_form"].errors.get("reason")
        assert f'data-testid="hold-form-{line.pk}"'.encode() in response.content
    assert fetch(brand, Statement, pk=line.pk).status == "pending"

    response = client.post(hold, {"reason": "客诉待查"})
    assert response.status_code == 302 and response["Location"].endswith(f"#line-{line.pk}")
    held = fetch(brand, Statement, pk=line.pk)
    assert (held.status, held.hold_reason, held.held_by_id) == ("held", "客诉待查", brand_admin.pk)
    page = client.get(reverse("dash-commission-settlement", args=[period.pk]))
    assert page.context["summary"]["held"] == {"n": 1, "fen": 1000}
    assert "客诉待查" in page.content.decode()
    statement_page = client.get(reverse("dash-commission-statement", args=[line.pk]))
    assert b'data-testid="statement-held"' in statement_page.content

    response = client.post(reverse("dash-commission-release", args=[line.pk]))
    assert response.status_code == 302
    assert fetch(brand, Statement, pk=line.pk).status == "pending"
    # Releasing what is not held says so and changes nothing.
    again = client.post(reverse("dash-commission-release", args=[line.pk]), follow=True)
    assert [m.level_tag for m in again.context["messages"]][-1] == "error"


def test_holding_a_statement_that_is_not_waiting_says_why(client, brand, brand_admin, closed):
    line = closed["line"]
    with brand_scope(brand):
        Statement.objects.filter(pk=line.pk).update(status="nothing", total_fen=0, earned_fen=0)
    login_as(client, brand_admin)
    response = client.post(reverse("dash-commission-hold", args=[line.pk]), {"reason": "查一下"}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert fetch(brand, Statement, pk=line.pk).status == "nothing"


def test_approving_pays_every_statement_not_held_once(client, brand, brand_admin, guide, guide_b, closed):
    top_up(brand, brand_admin, 100_000)
    line, line_b, period = closed["line"], closed["line_b"], closed["period"]
    login_as(client, brand_admin)
    client.post(reverse("dash-commission-hold", args=[line_b.pk]), {"reason": "离职核对"})
    approve = reverse("dash-commission-approve", args=[period.pk])
    confirm = client.get(approve)
    assert (confirm.context["due_fen"], confirm.context["pool_fen"], confirm.context["short"]) == (
        1000,
        100_000,
        False,
    )
    form_key = confirm.context["form"]["key"].value()
    assert f'value="{form_key}"'.encode() in confirm.content

    with committed():
        response = client.post(approve, {"key": form_key})
    assert response.status_code == 302
    assert response["Location"] == reverse("dash-commission-settlement", args=[period.pk])
    period = fetch(brand, SettlementPeriod, pk=period.pk)
    assert period.status == "paid" and period.approved_by_id == brand_admin.pk
    paid = fetch(brand, Statement, pk=line.pk)
    assert paid.status == "paid" and paid.packet_id is not None
    assert fetch(brand, Statement, pk=line_b.pk).status == "held"
    assert balance(brand, guide) == 1000 and balance(brand, Account.Kind.POOL) == 99_000

    # A double submit, or a new approval, pays nobody twice.
    with committed():
        again = client.post(approve, {"key": form_key})
        other = client.post(approve, {"key": key()})
    assert again.status_code == 302 and other.status_code == 302
    assert count(brand, RedPacket) == 1 and balance(brand, Account.Kind.POOL) == 99_000
    assert client.get(approve).status_code == 302  # nothing left to confirm

    page = client.get(reverse("dash-commission-settlement", args=[period.pk]))
    assert page.context["summary"]["paid"] == {"n": 1, "fen": 1000}
    assert page.context["percent"] == 100  # of those to pay; the held one waits for its release
    assert page.context["summary"]["held"]["n"] == 1
    assert page.context["live"] is False
    body = page.content.decode()
    assert (
        f'data-testid="packet-{line.pk}"' in body and reverse("dash-rp-packet", args=[paid.packet_id]) in body
    )
    assert f'data-testid="release-{line_b.pk}"' in body

    # Releasing the held statement of a paid period pays it there and then.
    with committed():
        client.post(reverse("dash-commission-release", args=[line_b.pk]))
    assert fetch(brand, Statement, pk=line_b.pk).status == "paid"
    assert balance(brand, guide_b) == 450 and count(brand, RedPacket) == 2

    statement_page = client.get(reverse("dash-commission-statement", args=[line.pk]))
    assert b'data-testid="statement-packet"' in statement_page.content
    [entry] = statement_page.context["entries"]
    assert entry.kind == CommissionEntry.Kind.EARN and entry.amount_fen == 1000
    assert entry.order.number.encode() in statement_page.content


def test_while_paying_the_page_refreshes_itself(client, brand, brand_admin, closed):
    top_up(brand, brand_admin, 100_000)
    login_as(client, brand_admin)
    period = closed["period"]
    # Approved, but the payment task has not run yet (no on-commit callbacks here).
    response = client.post(reverse("dash-commission-approve", args=[period.pk]), {"key": key()})
    assert response.status_code == 302
    page = client.get(reverse("dash-commission-settlement", args=[period.pk]))
    assert page.context["period"].status == "approved" and page.context["live"] is True
    assert b'hx-trigger="every 2s"' in page.content and b'hx-select="#settle-live"' in page.content
    assert page.context["percent"] == 0
    settlement.period_pay(brand=brand, period=period)
    page = client.get(reverse("dash-commission-settlement", args=[period.pk]))
    assert page.context["live"] is False and page.context["percent"] == 100
    assert b'hx-trigger="every 2s"' not in page.content


def test_approval_with_too_little_in_the_pool_is_refused(client, brand, brand_admin, closed):
    top_up(brand, brand_admin, 1000)  # ¥10 for ¥14.50 of statements
    period = closed["period"]
    login_as(client, brand_admin)
    approve = reverse("dash-commission-approve", args=[period.pk])
    confirm = client.get(approve)
    assert confirm.context["short"] is True and b'data-testid="approve-short"' in confirm.content
    with committed():
        response = client.post(approve, {"key": key()})
    assert response.status_code == 400
    errors = response.context["form"].non_field_errors()
    assert errors and "insufficient_funds" in [
        e.code for e in response.context["form"].errors.as_data()["__all__"]
    ]
    assert b'data-testid="approve-error"' in response.content
    assert fetch(brand, SettlementPeriod, pk=period.pk).status == "review"
    assert count(brand, Statement, status="paid") == 0 and count(brand, RedPacket) == 0
    assert balance(brand, Account.Kind.POOL) == 1000


def test_an_approval_form_without_its_key_is_refused(client, brand, brand_admin, closed):
    top_up(brand, brand_admin, 100_000)
    login_as(client, brand_admin)
    approve = reverse("dash-commission-approve", args=[closed["period"].pk])
    for bad in ({}, {"key": "not-a-uuid"}):
        assert client.post(approve, bad).status_code == 400
    assert fetch(brand, SettlementPeriod, pk=closed["period"].pk).status == "review"


def test_the_settlement_page_has_a_constant_query_count(client, brand, brand_admin, store, sku, closed):
    login_as(client, brand_admin)
    url = reverse("dash-commission-settlement", args=[closed["period"].pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    # Twenty more statements in the period.
    period = closed["period"]
    with brand_scope(brand):
        for i in range(20):
            g = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name=f"导购{i}")
            Statement.objects.create(brand=brand, period=period, guide=g, earned_fen=100, total_fen=100)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_the_reports_have_a_constant_query_count(client, brand, brand_admin, store, sku, guide, sales):
    login_as(client, brand_admin)
    client.get(REPORTS)
    with CaptureQueriesContext(connection) as few:
        client.get(REPORTS)
    for i in range(5):
        g = StaffFactory(
            brand=brand, role=Staff.Role.GUIDE, stores=[StoreFactory(brand=brand)], name=f"导购{i}"
        )
        external(brand, brand_admin, "pos", store=store, served_by=g, lines=[(sku, 1, 1000)])
    with CaptureQueriesContext(connection) as many:
        response = client.get(REPORTS)
    assert len(response.context["by_guide"]) == 7
    assert len(many) == len(few)


def test_the_reports_of_a_brand_without_orders(client, brand, brand_admin):
    login_as(client, brand_admin)
    response = client.get(REPORTS)
    assert response.status_code == 200
    assert response.context["totals"]["orders"] == 0 and response.context["totals"]["rate"] == "—"
    assert b'data-testid="no-data"' in response.content


def test_the_running_period_is_closed_early_after_confirmation_once(
    client, brand, brand_admin, guide, store, sku
):
    rule(brand, brand_admin, rate_bp=1000)
    external(brand, brand_admin, "pos", store=store, served_by=guide, lines=[(sku, 1, 5000)])
    login_as(client, brand_admin)
    page = client.get(SETTLEMENTS)
    assert (
        b'data-testid="close-running-confirm"' in page.content
        and "提前关闭当前结算周期" in page.content.decode()
    )
    start = page.context["running_start"]
    close_url = reverse("dash-commission-close-running")
    # Without the confirmation nothing closes.
    response = client.post(close_url, {"start": start}, follow=True)
    assert count(brand, SettlementPeriod) == 0 and "请勾选确认框" in response.content.decode()
    response = client.post(close_url, {"start": start, "confirm": "yes"})
    period = fetch(brand, SettlementPeriod)
    assert response["Location"] == reverse("dash-commission-settlement", args=[period.pk])
    assert period.start.isoformat() == start and period.end <= timezone.now()
    assert (period.statements, period.total_fen) == (1, 500)
    # The page now offers the next period, which started when this one closed.
    assert client.get(SETTLEMENTS).context["running_start"] == period.end.isoformat()
    # The same form sent again closes nothing more; a made-up start is refused.
    again = client.post(close_url, {"start": start, "confirm": "yes"}, follow=True)
    assert count(brand, SettlementPeriod) == 1 and "已经关闭" in again.content.decode()
    for bad in (
        {"start": "yesterday", "confirm": "yes"},
        {"confirm": "yes"},
        {"start": "2020-01-01T00:00:00+00:00", "confirm": "yes"},
    ):
        assert client.post(close_url, bad).status_code == 302
    assert count(brand, SettlementPeriod) == 1
    login_as(client, guide)
    assert client.post(close_url, {"start": period.end.isoformat(), "confirm": "yes"}).status_code == 403
    assert count(brand, SettlementPeriod) == 1


def test_the_settings_page_says_when_a_new_period_length_starts(client, brand, brand_admin):
    start, end, label = settlement.last_complete_period(brand=brand)
    month = settlement.period_close(brand=brand, start=start, end=end, label=label)
    login_as(client, brand_admin)
    local = f"{month.end.astimezone(zoneinfo.ZoneInfo('Asia/Shanghai')):%Y-%m-%d %H:%M}"
    page = client.get(SETTINGS).content.decode()
    assert 'data-testid="length-notice"' in page and f"修改结算周期长度自 {local}" in page
    response = client.post(SETTINGS, {"period": "weekly", "timezone": "Asia/Shanghai"}, follow=True)
    assert f"新的结算周期长度自 {local} 起生效" in response.content.decode()
    assert client.get(SETTINGS).context["period_start"] == month.end
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert f"A change of period length takes effect from {local}" in client.get(SETTINGS).content.decode()
