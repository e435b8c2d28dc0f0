"""Commission REST API: an order's attribution, rules, statements, approval; roles, another brand's
ids, bad input, replays."""

import datetime
import json

import pytest
from django.utils import timezone

from guides.models import AttributionRule, CommissionRule, Statement
from guides.services import settlement
from retail.tenancy import brand_scope
from tests.factories import SkuFactory
from tests.helpers.api import api_error, send_json
from tests.helpers.auth import login_as
from tests.helpers.commission import LONG_AGO, external, join, rule
from tests.helpers.packets import top_up

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


@pytest.fixture
def settled(brand, brand_admin, guide, sku):
    rule(brand, brand_admin, rate_bp=1000)
    order = external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide, since=LONG_AGO),
        lines=[(sku, 1, 10000)],
        at=timezone.now() - 5 * DAY,
    )
    period = settlement.period_close(
        brand=brand, start=timezone.now() - 30 * DAY, end=timezone.now() - DAY, label="2026-11"
    )
    return order, period


def test_order_attribution_by_role(client, brand, brand_admin, guide, guide2, store_manager, settled):
    order, _period = settled
    url = f"/api/v1/orders/{order.pk}/attribution/"
    r = login_as(client, brand_admin).get(url)
    assert r.status_code == 200
    body = r.json()
    assert (
        body["guide"]["id"] == guide.pk and body["source"] == "exclusive" and body["commission_fen"] == 1000
    )
    assert body["lines"][0]["commission_fen"] == 1000 and body["entries"][0]["kind"] == "earn"
    assert body["rule_version"] == 1
    assert login_as(client, guide).get(url).status_code == 200  # the guide credited
    api_error(login_as(client, guide2).get(url), 403)  # another guide
    api_error(login_as(client, store_manager).get(url), 403)  # a flagship order has no store of theirs


def test_another_brands_ids_are_404(client, brand, other_brand, other_admin, brand_admin, settled):
    order, period = settled
    with brand_scope(brand):
        statement = Statement.objects.get()
    login_as(client, other_admin)
    api_error(client.get(f"/api/v1/orders/{order.pk}/attribution/"), 404)
    api_error(client.get(f"/api/v1/commission/statements/{statement.pk}/"), 404)
    api_error(client.get(f"/api/v1/commission/periods/{period.pk}/"), 404)
    api_error(
        send_json(client, f"/api/v1/commission/periods/{period.pk}/approve/", key="x", commit=True), 404
    )
    api_error(
        send_json(
            client, f"/api/v1/commission/statements/{statement.pk}/hold/", {"reason": "x"}, commit=True
        ),
        404,
    )
    api_error(client.get(f"/api/v1/commission/statements/?period={period.pk}"), 404)
    assert client.get("/api/v1/commission/statements/").json()["count"] == 0


def test_commission_rules_api(client, brand, brand_admin, guide, other_brand, category, sku):
    login_as(client, brand_admin)
    r = send_json(
        client,
        "/api/v1/commission/rules/",
        {"name": "护肤 8%", "kind": "percent", "rate_bp": 800, "category": category.pk},
        commit=True,
    )
    assert r.status_code == 201, r.content
    rule_id = r.json()["id"]
    assert client.get("/api/v1/commission/rules/").json()[0]["rate_bp"] == 800
    # bad input: nothing written
    foreign = SkuFactory(brand=other_brand)
    for bad, field in [
        ({"name": "x", "kind": "percent", "rate_bp": 10001}, "rate_bp"),
        ({"name": "x", "kind": "percent", "rate_bp": "ten"}, "rate_bp"),
        ({"name": "x", "kind": "percent", "rate_bp": 0}, "rate_bp"),
        ({"name": "x", "kind": "fixed", "fixed_fen": 100, "sku": foreign.pk}, "sku"),
        ({"name": "x", "kind": "fixed", "fixed_fen": 100, "sku": sku.pk, "category": category.pk}, "sku"),
        ({"name": "x", "kind": "bogus", "rate_bp": 5}, "kind"),
        ({"name": "", "kind": "percent", "rate_bp": 5}, "name"),
        (
            {
                "name": "x",
                "kind": "percent",
                "rate_bp": 5,
                "effective_from": "2026-01-02T00:00:00Z",
                "effective_to": "2026-01-01T00:00:00Z",
            },
            "effective_to",
        ),
    ]:
        body = api_error(send_json(client, "/api/v1/commission/rules/", bad, commit=True), 400)
        assert field in body.get("fields", {}), (bad, body)
    api_error(send_json(client, "/api/v1/commission/rules/", "{not json", commit=True), 400)
    with brand_scope(brand):
        assert CommissionRule.objects.count() == 1
    r = send_json(client, f"/api/v1/commission/rules/{rule_id}/end/", {}, commit=True)
    assert r.status_code == 200 and r.json()["effective_to"]
    api_error(
        send_json(client, f"/api/v1/commission/rules/{rule_id}/end/", {}, commit=True), 400, "already_ended"
    )
    api_error(login_as(client, guide).get("/api/v1/commission/rules/"), 403)


def test_attribution_rule_versions_api(client, brand, brand_admin):
    login_as(client, brand_admin)
    r = send_json(
        client,
        "/api/v1/commission/attribution-rules/",
        {"cloud_store": "exclusive>touch", "touch_window_days": 7},
        commit=True,
    )
    assert r.status_code == 201 and r.json()["version"] == 2
    api_error(
        send_json(client, "/api/v1/commission/attribution-rules/", {"touch_window_days": 31}, commit=True),
        400,
    )
    api_error(
        send_json(client, "/api/v1/commission/attribution-rules/", {"pos": "whoever"}, commit=True), 400
    )
    versions = client.get("/api/v1/commission/attribution-rules/").json()
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["touch_window_days"] == 7
    with brand_scope(brand):
        assert AttributionRule.objects.count() == 2


def test_approval_api_is_idempotent_and_pays_once(client, brand, brand_admin, guide, settled):
    _order, period = settled
    login_as(client, brand_admin)
    url = f"/api/v1/commission/periods/{period.pk}/approve/"
    api_error(send_json(client, url, commit=True), 400)  # no key
    api_error(send_json(client, url, key="a1", commit=True), 400, "insufficient_funds")
    top_up(brand, brand_admin, 10_000)
    r = send_json(client, url, key="a1", commit=True)
    assert r.status_code == 200 and r.json()["status"] == "approved"  # paid by a task after commit
    assert client.get(f"/api/v1/commission/periods/{period.pk}/").json()["status"] == "paid"
    r = send_json(client, url, key="a1", commit=True)
    assert r.status_code == 200 and r["Idempotent-Replayed"] == "true"
    statements = client.get(f"/api/v1/commission/statements/?period={period.pk}").json()["results"]
    assert [(s["status"], s["total_fen"]) for s in statements] == [("paid", 1000)]
    assert statements[0]["red_packet_id"]
    # the guide sees their own statement and the paid packet
    login_as(client, guide)
    mine = client.get("/api/v1/commission/statements/").json()["results"]
    assert len(mine) == 1
    detail = client.get(f"/api/v1/commission/statements/{mine[0]['id']}/").json()
    assert detail["entries"][0]["amount_fen"] == 1000
    wallet = client.get("/api/v1/wallet/records/").json()["results"]
    assert wallet[0]["amount_fen"] == 1000


def test_hold_and_release_api(client, brand, brand_admin, guide, settled):
    _order, period = settled
    with brand_scope(brand):
        statement = Statement.objects.get()
    login_as(client, brand_admin)
    api_error(send_json(client, f"/api/v1/commission/statements/{statement.pk}/hold/", {}, commit=True), 400)
    api_error(
        send_json(
            client, f"/api/v1/commission/statements/{statement.pk}/hold/", {"reason": "x" * 201}, commit=True
        ),
        400,
    )
    r = send_json(
        client, f"/api/v1/commission/statements/{statement.pk}/hold/", {"reason": "核对"}, commit=True
    )
    assert r.status_code == 200 and r.json()["status"] == "held"
    r = send_json(client, f"/api/v1/commission/statements/{statement.pk}/release/", commit=True)
    assert r.json()["status"] == "pending"
    api_error(
        send_json(client, f"/api/v1/commission/statements/{statement.pk}/release/", commit=True),
        400,
        "not_held",
    )
    api_error(
        login_as(client, guide).post(f"/api/v1/commission/statements/{statement.pk}/hold/", {"reason": "x"}),
        403,
    )


def test_guides_see_only_their_statements(client, brand, guide, guide2, settled):
    with brand_scope(brand):
        statement = Statement.objects.get()
    api_error(login_as(client, guide2).get(f"/api/v1/commission/statements/{statement.pk}/"), 404)
    assert client.get(f"/api/v1/commission/statements/?guide={guide.pk}").json()["count"] == 0
    api_error(client.get("/api/v1/commission/statements/?status=bogus"), 400)
    api_error(client.get("/api/v1/commission/statements/?period=abc"), 400)


def test_my_commission(client, brand, guide, settled, django_assert_max_num_queries):
    login_as(client, guide)
    with django_assert_max_num_queries(28):  # constant: no query per entry or statement
        body = client.get("/api/v1/commission/me/").json()
    assert body["members_recruited"] == 1 and body["unsettled_fen"] == 0
    assert body["statements"][0]["total_fen"] == 1000


def test_reattribution_api(client, brand, brand_admin, settled):
    login_as(client, brand_admin)
    now = timezone.now()
    api_error(
        send_json(
            client,
            "/api/v1/commission/reattributions/",
            {"start": now.isoformat(), "end": (now - DAY).isoformat(), "reason": "x"},
            commit=True,
        ),
        400,
    )
    api_error(
        send_json(
            client,
            "/api/v1/commission/reattributions/",
            {"start": (now - DAY).isoformat(), "end": now.isoformat(), "reason": ""},
            commit=True,
        ),
        400,
    )
    r = send_json(
        client,
        "/api/v1/commission/reattributions/",
        {"start": (now - 30 * DAY).isoformat(), "end": now.isoformat(), "reason": "新规则"},
        commit=True,
    )
    assert r.status_code == 201, r.content
    runs = client.get("/api/v1/commission/reattributions/").json()
    assert runs[0]["status"] == "done" and runs[0]["orders"] == 1 and runs[0]["changed"] == 0


def test_settings_api_refuses_bad_values_and_changes_nothing(client, brand, brand_admin, guide):
    login_as(client, brand_admin)
    url = "/api/v1/commission/settings/"
    assert client.get(url).json()["period"] == "monthly"
    for bad in ({"timezone": "Mars/Olympus"}, {"period": "daily"}, {"greeting": "x" * 61}):
        api_error(client.patch(url, json.dumps(bad), content_type="application/json"), 400)
    api_error(client.patch(url, "{oops", content_type="application/json"), 400)
    assert client.get(url).json() == {"period": "monthly", "timezone": "Asia/Shanghai", "greeting": ""}
    r = client.patch(url, json.dumps({"period": "weekly"}), content_type="application/json")
    assert r.status_code == 200 and r.json()["period"] == "weekly"
    api_error(
        login_as(client, guide).patch(
            url, json.dumps({"period": "monthly"}), content_type="application/json"
        ),
        403,
    )


def test_closing_the_running_period_early_through_the_api(client, brand, brand_admin, guide, sku):
    from retail.models import AuditLog

    rule(brand, brand_admin, rate_bp=1000)
    external(
        brand, brand_admin, "flagship", member=join(brand, guide, since=LONG_AGO), lines=[(sku, 1, 10000)]
    )
    url = "/api/v1/commission/periods/running/"
    login_as(client, guide)
    api_error(client.get(url), 403)
    api_error(send_json(client, url, {"start": timezone.now().isoformat()}, commit=True), 403)
    login_as(client, brand_admin)
    running = client.get(url).json()
    assert running["length"] == "monthly" and running["start"] < running["end"]
    for bad in ({}, {"start": "soon"}, {"start": "2020-01-01T00:00:00Z"}):
        assert send_json(client, url, bad, commit=True).status_code == 400
    r = send_json(client, url, {"start": running["start"]}, commit=True)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["statements"] == 1 and body["total_fen"] == 1000
    assert client.get(url).json()["start"] == body["end"]  # the next period starts where it ended
    replay = send_json(client, url, {"start": running["start"]}, commit=True)
    assert (
        replay.status_code == 200
        and replay["Idempotent-Replayed"] == "true"
        and replay.json()["id"] == body["id"]
    )
    with brand_scope(brand):
        assert AuditLog.objects.filter(action="commission.period_closed_early").count() == 1
        assert Statement.objects.count() == 1
