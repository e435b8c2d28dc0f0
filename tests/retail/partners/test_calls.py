"""Partner calls with a Bearer token: the brand comes from the token only, each operation needs
its scope, the app's IP allowlist and rate limit hold, every call is logged, the service staff
stays out of people lists, and a test-mode app only ever reaches the simulated providers."""

from __future__ import annotations

import pytest
from django.test import TestCase

from cloudstore.models import Payment
from cloudstore.services import checkout
from retail import payments
from retail.models import AuditLog, Staff
from retail.partners import throttling
from retail.partners.models import PartnerCall
from retail.tenancy import brand_scope
from tests.factories import InventoryFactory, MemberFactory, ProductFactory, SkuFactory
from tests.helpers.api import api_error
from tests.helpers.auth import login_as
from tests.helpers.partners import bearer, get_token, make_app
from tests.helpers.shop import pay

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/members/lookup/"


@pytest.fixture
def partner(client, brand, brand_admin):
    app, secret = make_app(brand, brand_admin, scopes=["members:read", "stores:read", "stores:write"])
    return app, get_token(client, app, secret)


def _calls(brand):
    with brand_scope(brand):
        return list(PartnerCall.objects.order_by("id"))


def test_a_token_reads_its_own_brand_only(client, partner, brand, store, other_brand, other_store):
    _app, token = partner
    mine = MemberFactory(brand=brand, name="李雷", phone="13712345678")
    theirs = MemberFactory(brand=other_brand, name="韩梅梅", phone="13700000001")
    resp = client.get(LOOKUP, {"kind": "phone", "value": "13712345678"}, **bearer(token))
    assert resp.status_code == 200, resp.content
    assert resp.json()["id"] == mine.pk
    api_error(client.get(LOOKUP, {"kind": "phone", "value": "13700000001"}, **bearer(token)), 404)
    api_error(client.get(f"/api/v1/members/{theirs.pk}/", **bearer(token)), 404)
    stores = client.get("/api/v1/stores/", **bearer(token)).json()["results"]
    assert [s["id"] for s in stores] == [store.pk]
    api_error(client.get(f"/api/v1/stores/{other_store.pk}/", **bearer(token)), 404)


def test_another_brands_token_sees_nothing_of_this_brand(client, brand, store, other_brand, other_admin):
    app, secret = make_app(other_brand, other_admin, scopes=["stores:read", "members:read"])
    token = get_token(client, app, secret)
    member = MemberFactory(brand=brand, phone="13712345678")
    api_error(client.get(f"/api/v1/stores/{store.pk}/", **bearer(token)), 404)
    api_error(client.get(f"/api/v1/members/{member.pk}/", **bearer(token)), 404)
    assert client.get("/api/v1/stores/", **bearer(token)).json()["results"] == []


def test_an_operation_needs_its_scope(client, brand, brand_admin, store):
    app, secret = make_app(brand, brand_admin, scopes=["members:read", "stores:read"])
    token = get_token(client, app, secret, scope="members:read")
    api_error(client.get("/api/v1/stores/", **bearer(token)), 403, "insufficient_scope")
    read_only = get_token(client, app, secret, scope="stores:read")
    assert client.get("/api/v1/stores/", **bearer(read_only)).status_code == 200
    resp = client.post(
        "/api/v1/stores/", {"code": "X1", "name": "x"}, content_type="application/json", **bearer(read_only)
    )
    api_error(resp, 403, "insufficient_scope")


@pytest.mark.parametrize("path", ["/api/v1/me/", "/api/v1/schema/"])
def test_staff_only_and_plain_endpoints_refuse_a_token(client, partner, path):
    _app, token = partner
    api_error(client.get(path, **bearer(token)), 403, "insufficient_scope")


def test_a_session_cookie_is_ignored_on_a_bearer_request(client, partner, brand, other_admin, other_store):
    _app, token = partner
    login_as(client, other_admin)
    assert client.get("/api/v1/stores/").json()["results"][0]["id"] == other_store.pk
    assert client.get("/api/v1/stores/", **bearer(token)).json()["results"] == []
    api_error(client.get("/api/v1/stores/", **bearer("forged")), 401, "invalid_token")


def test_writes_act_as_the_apps_service_staff(client, partner, brand):
    app, token = partner
    resp = client.post(
        "/api/v1/stores/",
        {"code": "API1", "name": "接口门店"},
        content_type="application/json",
        **bearer(token),
    )
    assert resp.status_code == 201, resp.content
    with brand_scope(brand):
        entry = AuditLog.objects.get(action="store.created")
    assert entry.actor_id == app.service_staff.user_id
    assert str(entry.actor) == "API · 收银系统"


def test_ip_allowlist(client, brand, brand_admin, store):
    app, secret = make_app(brand, brand_admin, ip_allowlist=["10.0.0.0/8", "2001:db8::/32"])
    token = get_token(client, app, secret)
    api_error(client.get("/api/v1/stores/", **bearer(token)), 403, "ip_not_allowed")
    resp = client.get("/api/v1/stores/", REMOTE_ADDR="10.20.30.40", **bearer(token))
    assert resp.status_code == 200
    assert client.get("/api/v1/stores/", REMOTE_ADDR="2001:db8::7", **bearer(token)).status_code == 200
    assert [c.status for c in _calls(brand)][0] == 403


def test_rate_limit_per_app(client, brand, brand_admin, store, monkeypatch):
    monkeypatch.setattr(throttling, "clock", lambda: 1_800_000_010.0)
    app, secret = make_app(brand, brand_admin, scopes=["stores:read"], rate_limit_per_minute=3)
    token = get_token(client, app, secret)
    for remaining in (2, 1, 0):
        resp = client.get("/api/v1/stores/", **bearer(token))
        assert resp.status_code == 200
        assert resp["X-RateLimit-Limit"] == "3" and resp["X-RateLimit-Remaining"] == str(remaining)
        assert resp["X-RateLimit-Reset"] == "1800000060"
    resp = client.get("/api/v1/stores/", **bearer(token))
    api_error(resp, 429, "rate_limited")
    assert resp["Retry-After"] == "50" and resp["X-RateLimit-Remaining"] == "0"
    # Another app of the brand has its own allowance.
    other, other_secret = make_app(brand, brand_admin, name="ERP", scopes=["stores:read"])
    assert client.get("/api/v1/stores/", **bearer(get_token(client, other, other_secret))).status_code == 200
    # The next minute starts afresh.
    monkeypatch.setattr(throttling, "clock", lambda: 1_800_000_070.0)
    assert client.get("/api/v1/stores/", **bearer(token)).status_code == 200


def test_calls_are_logged_after_the_request_with_errors_and_sampled_reads(
    client, partner, brand, store, settings
):
    app, token = partner
    settings.PARTNER_READ_SAMPLE_RATE = 0
    assert client.get("/api/v1/stores/", **bearer(token)).status_code == 200
    assert _calls(brand) == []  # a successful read, not sampled
    api_error(client.get("/api/v1/stores/999999/", **bearer(token)), 404)
    bad = client.post(
        "/api/v1/stores/",
        {"code": "bad code!", "name": ""},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
        **bearer(token),
    )
    assert bad.status_code == 400
    settings.PARTNER_READ_SAMPLE_RATE = 1
    assert client.get("/api/v1/stores/", **bearer(token)).status_code == 200
    rows = [(c.method, c.path, c.status, c.error_code, c.route, c.idempotency_key) for c in _calls(brand)]
    assert rows == [
        ("GET", "/api/v1/stores/999999/", 404, "not_found", "store-detail", ""),
        ("POST", "/api/v1/stores/", 400, "invalid", "store-list", "k-1"),
        ("GET", "/api/v1/stores/", 200, "", "store-list", ""),
    ]
    assert all(c.app_id == app.pk and c.ip == "127.0.0.1" for c in _calls(brand))
    with brand_scope(brand):
        app.refresh_from_db()
    assert app.last_used_at is not None


def test_the_service_staff_is_not_a_person_of_the_brand(client, partner, brand, brand_admin, as_admin):
    app, _token = partner
    names = [s["name"] for s in as_admin.get("/api/v1/staff/").json()["results"]]
    assert brand_admin.name in names and "API · 收银系统" not in names
    page = as_admin.get("/dashboard/staff/")
    assert page.status_code == 200 and "API · 收银系统" not in page.content.decode()
    with brand_scope(brand):
        assert not Staff.objects.filter(pk=app.service_staff_id).exists()
        assert Staff.unscoped.get(pk=app.service_staff_id).kind == Staff.Kind.APP


class LiveProvider(payments.SimulatedProvider):
    """Stands for a real payment provider: records the refunds asked of it."""

    name = "live"

    def __init__(self):
        self.refunds: list[str] = []

    def refund(self, *, reference, amount_fen, refund_key):
        self.refunds.append(reference)
        return "LIVE-REF"


@pytest.mark.parametrize("test_mode", [True, False])
def test_a_test_mode_app_refunds_through_the_simulator(
    client, brand, brand_admin, store, monkeypatch, test_mode
):
    live = LiveProvider()
    monkeypatch.setitem(payments._PROVIDERS, "live", live)
    product = ProductFactory(brand=brand)
    sku = SkuFactory(brand=brand, product=product, list_price_fen=29900)
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=5)
    member = MemberFactory(brand=brand)
    order = checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 1)], checkout_key="k", fulfilment="pickup"
    )
    pay(brand, order)
    with brand_scope(brand):
        payment = Payment.objects.get(order=order)
        Payment.objects.filter(pk=payment.pk).update(provider="live")  # paid through the real provider
    app, secret = make_app(brand, brand_admin, scopes=["orders:read", "orders:write"], test_mode=test_mode)
    token = get_token(client, app, secret)
    with TestCase.captureOnCommitCallbacks(execute=True):
        resp = client.post(
            f"/api/v1/orders/{order.pk}/refunds/",
            {"amount_fen": 100, "reason": "测试"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="refund-1",
            **bearer(token),
        )
    assert resp.status_code == 201, resp.content
    sim_refunded = payments.provider("sim").record(payment.reference)["refunded_fen"]
    if test_mode:
        assert live.refunds == [] and sim_refunded == 100
    else:
        assert live.refunds == [payment.reference] and sim_refunded == 0


def test_the_token_endpoint_is_in_the_schema_with_its_oauth_errors(client):
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()
    op = schema["paths"]["/api/v1/oauth/token/"]["post"]
    assert {"200", "400", "401"} <= set(op["responses"])
    assert "application/x-www-form-urlencoded" in op["requestBody"]["content"]
    error = op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/OAuthError")
