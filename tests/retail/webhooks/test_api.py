"""The webhooks API (/api/v1/webhooks/): a partner app (scope webhooks:manage) manages its own
endpoints only; a brand admin's session sees every app's and names the app when creating; bad
URLs and unknown event types are 400s with field errors; test events, delivery log and replay."""

from __future__ import annotations

import pytest

from retail.events import Actor
from retail.tenancy import brand_scope
from retail.webhooks import services
from retail.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.helpers.api import api_error, send_json
from tests.helpers.auth import login_as
from tests.helpers.commission import committed
from tests.helpers.partners import bearer, get_token, make_app
from tests.helpers.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/webhooks/endpoints/"
DELIVERIES = "/api/v1/webhooks/deliveries/"


@pytest.fixture
def pos(brand, brand_admin):
    return make_app(brand, brand_admin, name="收银系统", scopes=["webhooks:manage", "orders:write"])


@pytest.fixture
def erp(brand, brand_admin):
    return make_app(brand, brand_admin, name="ERP", scopes=["webhooks:manage"])


@pytest.fixture
def pos_token(client, pos):
    return get_token(client, *pos)


def partner(client, token, method, url, data=None, **kw):
    if method == "get":
        return client.get(url, data or {}, **bearer(token))
    return getattr(client, method)(url, data or {}, content_type="application/json", **bearer(token), **kw)


def test_a_partner_creates_its_endpoint_and_gets_the_secret_once(client, brand, pos, pos_token):
    app, _secret = pos
    resp = partner(
        client,
        pos_token,
        "post",
        ENDPOINTS,
        {"url": "https://hooks.example.com/retail", "event_types": ["order.paid", "member.joined"]},
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["secret"].startswith("whsec_") and body["app"] == app.pk and body["enabled"] is True
    assert body["event_types"] == ["order.paid", "member.joined"]
    detail = partner(client, pos_token, "get", f"{ENDPOINTS}{body['id']}/").json()
    assert "secret" not in detail and detail["url"] == "https://hooks.example.com/retail"
    with brand_scope(brand):
        assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]


def test_a_partner_sees_only_its_own_endpoints_and_a_brand_admin_sees_all(
    client, brand, brand_admin, pos, erp, pos_token
):
    theirs, _s = services.endpoint_create(
        brand=brand,
        actor=Actor.system(),
        app=erp[0],
        url="https://erp.example.com/h",
        event_types=["order.paid"],
    )
    mine, _s = services.endpoint_create(
        brand=brand,
        actor=Actor.system(),
        app=pos[0],
        url="https://pos.example.com/h",
        event_types=["order.paid"],
    )
    listed = partner(client, pos_token, "get", ENDPOINTS).json()["results"]
    assert [e["id"] for e in listed] == [mine.pk]
    for method, suffix in [
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "rotate-secret/"),
        ("post", "test/"),
    ]:
        api_error(partner(client, pos_token, method, f"{ENDPOINTS}{theirs.pk}/{suffix}"), 404)
    with brand_scope(brand):
        assert WebhookEndpoint.objects.filter(pk=theirs.pk, enabled=True).exists()

    client.logout()
    admin = login_as(client, brand_admin)
    listed = admin.get(ENDPOINTS).json()["results"]
    assert {e["id"] for e in listed} == {mine.pk, theirs.pk}
    assert [e["id"] for e in admin.get(ENDPOINTS, {"app": erp[0].pk}).json()["results"]] == [theirs.pk]


def test_a_brand_admin_names_the_app_when_creating(client, brand_admin, pos, other_brand, other_admin):
    admin = login_as(client, brand_admin)
    body = {"url": "https://hooks.example.com/x", "event_types": ["order.paid"]}
    error = api_error(send_json(admin, ENDPOINTS, body), 400)
    assert "app" in error["fields"]
    other_app, _s = make_app(other_brand, other_admin, scopes=["webhooks:manage"])
    error = api_error(send_json(admin, ENDPOINTS, {**body, "app": other_app.pk}), 400)
    assert "app" in error["fields"]
    resp = send_json(admin, ENDPOINTS, {**body, "app": pos[0].pk})
    assert resp.status_code == 201 and resp.json()["app"] == pos[0].pk


def test_a_partner_cannot_create_for_another_app(client, pos_token, erp):
    body = {"url": "https://hooks.example.com/x", "event_types": ["order.paid"], "app": erp[0].pk}
    assert "app" in api_error(partner(client, pos_token, "post", ENDPOINTS, body), 400)["fields"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "ftp://hooks.example.com/x", "event_types": ["order.paid"]}, "url"),
        ({"url": "javascript:alert(1)", "event_types": ["order.paid"]}, "url"),
        ({"url": "https://example.com/" + "x" * 600, "event_types": ["order.paid"]}, "url"),
        ({"url": "https://user:pw@example.com/", "event_types": ["order.paid"]}, "url"),
        ({"url": "https://hooks.example.com/x", "event_types": ["order.payed"]}, "event_types"),
        ({"url": "https://hooks.example.com/x", "event_types": []}, "event_types"),
        ({"url": "https://hooks.example.com/x", "event_types": "order.paid"}, "event_types"),
        ({"event_types": ["order.paid"]}, "url"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, pos_token, body, field):
    error = api_error(partner(client, pos_token, "post", ENDPOINTS, body), 400)
    assert field in error["fields"], error


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/x",
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://169.254.169.254/",
        "https://localhost/x",
    ],
)
def test_private_addresses_are_refused_in_production(client, pos_token, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    body = {"url": url, "event_types": ["order.paid"]}
    assert "url" in api_error(partner(client, pos_token, "post", ENDPOINTS, body), 400)["fields"]
    body = {"url": "http://203.0.113.7/x", "event_types": ["order.paid"]}  # http: https only
    assert "url" in api_error(partner(client, pos_token, "post", ENDPOINTS, body), 400)["fields"]


def test_a_token_without_the_webhooks_scope_is_refused(client, brand, brand_admin):
    app, secret = make_app(brand, brand_admin, scopes=["orders:write"])
    token = get_token(client, app, secret)
    api_error(partner(client, token, "get", ENDPOINTS), 403, "insufficient_scope")
    api_error(partner(client, token, "get", "/api/v1/webhooks/event-types/"), 403, "insufficient_scope")


def test_staff_other_than_brand_admins_are_refused(client, guide):
    api_error(login_as(client, guide).get(ENDPOINTS), 403)


def test_the_event_types_with_their_schemas(client, pos_token):
    types = partner(client, pos_token, "get", "/api/v1/webhooks/event-types/").json()
    by_name = {t["name"]: t for t in types}
    assert {"member.joined", "order.paid", "commission.statement_paid"} <= set(by_name)
    assert by_name["order.paid"]["schema"]["properties"]["total_fen"]["type"] == "integer"


def test_update_rotate_test_replay_and_delete(client, brand, pos, pos_token):
    with Receiver() as receiver:
        created = partner(
            client, pos_token, "post", ENDPOINTS, {"url": receiver.url, "event_types": ["order.paid"]}
        ).json()
        url = f"{ENDPOINTS}{created['id']}/"
        receiver.secrets.append(created["secret"])

        resp = partner(client, pos_token, "patch", url, {"event_types": ["order.paid", "order.refunded"]})
        assert resp.status_code == 200 and resp.json()["event_types"] == ["order.paid", "order.refunded"]

        rotated = partner(client, pos_token, "post", f"{url}rotate-secret/", {"grace_hours": 2}).json()
        assert rotated["secret"] != created["secret"] and rotated["previous_secret_expires_at"].endswith("Z")
        receiver.secrets.append(rotated["secret"])
        assert partner(client, pos_token, "get", url).json()["previous_secret_expires_at"]

        with committed():  # the test event is sent after commit, as a worker would
            resp = partner(client, pos_token, "post", f"{url}test/")
        assert resp.status_code == 202 and resp.json()["event_type"] == "ping"
        assert len(receiver.received) == 1 and len(receiver.received[0]["valid_for"]) == 2

        listed = partner(client, pos_token, "get", DELIVERIES, {"endpoint": created["id"]}).json()["results"]
        assert [d["status"] for d in listed] == ["succeeded"]
        detail = partner(client, pos_token, "get", f"{DELIVERIES}{listed[0]['id']}/").json()
        assert detail["event"]["type"] == "ping" and len(detail["attempt_log"]) == 1
        assert detail["attempt_log"][0]["response_status"] == 200

        with committed():
            resp = partner(client, pos_token, "post", f"{DELIVERIES}{listed[0]['id']}/replay/")
        assert resp.status_code == 201 and resp.json()["manual"] is True
        assert len(receiver.received) == 2
        assert partner(client, pos_token, "get", DELIVERIES, {"status": "succeeded"}).json()["count"] == 2

        resp = partner(client, pos_token, "patch", url, {"enabled": False})
        assert resp.json()["enabled"] is False and resp.json()["disabled_reason"] == "manual"
        api_error(partner(client, pos_token, "post", f"{url}test/"), 400, "endpoint_disabled")

        assert partner(client, pos_token, "delete", url).status_code == 204
    with brand_scope(brand):
        assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def test_another_brands_admin_sees_nothing(client, brand, pos, other_admin):
    endpoint, _s = services.endpoint_create(
        brand=brand,
        actor=Actor.system(),
        app=pos[0],
        url="https://pos.example.com/h",
        event_types=["order.paid"],
    )
    other = login_as(client, other_admin)
    assert other.get(ENDPOINTS).json()["results"] == []
    api_error(other.get(f"{ENDPOINTS}{endpoint.pk}/"), 404)
