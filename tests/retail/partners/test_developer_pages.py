"""The developer centre of the brand dashboard (/dashboard/developers/): partner apps with the
secret shown once, rotation and revocation, webhook endpoints, the delivery log with replay, the
partner activity log and the docs. Brand admins only; another brand's ids answer 404.

Assertions read data-testid hooks, statuses and rows, not wording (the Chinese comes separately)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.hashers import check_password
from django.urls import reverse

from retail.events import Actor
from retail.partners import services as partner_services
from retail.partners.models import PartnerApp, PartnerCall
from retail.tenancy import brand_scope
from retail.webhooks import services as webhook_services
from retail.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.helpers.auth import login_as
from tests.helpers.pages import count, key, text

APPS = reverse("dev-apps")
NEW_APP = reverse("dev-app-new")
DELIVERIES = reverse("dev-deliveries")
ACTIVITY = reverse("dev-activity")
DOCS = reverse("dev-docs")
HOOK_URL = "https://erp.example.com/hooks/retail"


def make_app(brand, admin, name="收银系统", scopes=("members:read", "orders:write"), **kw) -> PartnerApp:
    app, _secret = partner_services.app_create(
        brand=brand, actor=Actor(user=admin.user), name=name, scopes=list(scopes), **kw
    )
    return app


def make_endpoint(brand, admin, app, url=HOOK_URL, event_types=("order.paid",)) -> WebhookEndpoint:
    endpoint, _secret = webhook_services.endpoint_create(
        brand=brand, actor=Actor(user=admin.user), app=app, url=url, event_types=list(event_types)
    )
    return endpoint


def shown_secret(response) -> str | None:
    """The secret a page shows (the value of its data-testid="secret" box), if any."""
    m = re.search(r'value="([^"]*)"[^>]*data-testid="secret"', text(response))
    return m.group(1) if m else None


def app_post(**overrides) -> dict:
    data = {
        "name": "门店收银",
        "scopes": ["members:read", "orders:write"],
        "ip_allowlist": "203.0.113.0/24\n198.51.100.7",
        "rate_limit_per_minute": "120",
        "key": key(),
    }
    data.update(overrides)
    return data


@pytest.fixture
def app(brand, brand_admin):
    return make_app(brand, brand_admin)


@pytest.fixture
def endpoint(brand, brand_admin, app, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    return make_endpoint(brand, brand_admin, app)


@pytest.fixture
def delivery(brand, brand_admin, endpoint):
    """A test event to the endpoint with one failed attempt logged."""
    d = webhook_services.send_test_event(endpoint=endpoint, actor=Actor(user=brand_admin.user))
    with brand_scope(brand):
        WebhookAttempt.objects.create(
            brand=brand,
            delivery=d,
            request_headers={"Retail-Event-Type": "ping", "Retail-Signature": "t=1,v1=abc"},
            request_body='{"type": "ping"}',
            response_status=503,
            response_headers={"Content-Type": "text/plain"},
            response_body="upstream down 当前不可用",
            error="",
            duration_ms=42,
        )
    return d


# --- who may see what -----------------------------------------------------------------------------


def _urls(app, endpoint, delivery) -> list[str]:
    return [
        APPS,
        NEW_APP,
        reverse("dev-app", args=[app.pk]),
        reverse("dev-app-edit", args=[app.pk]),
        reverse("dev-endpoint-new", args=[app.pk]),
        reverse("dev-endpoint", args=[endpoint.pk]),
        DELIVERIES,
        reverse("dev-delivery", args=[delivery.pk]),
        ACTIVITY,
        DOCS,
    ]


def test_every_page_opens_for_a_brand_admin(client, brand_admin, app, endpoint, delivery):
    login_as(client, brand_admin)
    for url in _urls(app, endpoint, delivery):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"developers-dash.css" in response.content, url
        assert b'data-testid="nav-developers"' in response.content, url


@pytest.mark.parametrize("who", ["guide", "store_manager"])
def test_guides_and_store_managers_are_refused(client, request, who, brand, app, endpoint, delivery):
    login_as(client, request.getfixturevalue(who))
    for url in _urls(app, endpoint, delivery):
        assert client.get(url).status_code == 403, url
    if who == "store_manager":  # the console opens for a manager, without this entry
        console = client.get(reverse("dashboard"))
        assert console.status_code == 200 and b'data-testid="nav-developers"' not in console.content
    posts = [
        (NEW_APP, app_post()),
        (reverse("dev-app-rotate", args=[app.pk]), {"key": key()}),
        (reverse("dev-app-revoke", args=[app.pk]), {}),
        (
            reverse("dev-endpoint-new", args=[app.pk]),
            {"url": HOOK_URL, "event_types": ["order.paid"], "key": key()},
        ),
        (reverse("dev-endpoint-delete", args=[endpoint.pk]), {}),
        (reverse("dev-delivery-replay", args=[delivery.pk]), {"key": key()}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert count(brand, PartnerApp) == 1
    assert count(brand, PartnerApp, status="revoked") == 0
    assert count(brand, WebhookEndpoint) == 1
    assert count(brand, WebhookDelivery) == 1


def test_anonymous_visitors_go_to_the_login_page(client, app):
    for url in (APPS, reverse("dev-app", args=[app.pk]), DOCS):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_another_brands_apps_endpoints_and_deliveries_are_not_found(
    client, brand, brand_admin, other_brand, other_admin, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    theirs = make_app(other_brand, other_admin, name="别家ERP")
    their_endpoint = make_endpoint(other_brand, other_admin, theirs)
    their_delivery = webhook_services.send_test_event(
        endpoint=their_endpoint, actor=Actor(user=other_admin.user)
    )
    login_as(client, brand_admin)
    for url in (
        reverse("dev-app", args=[theirs.pk]),
        reverse("dev-app-edit", args=[theirs.pk]),
        reverse("dev-endpoint-new", args=[theirs.pk]),
        reverse("dev-endpoint", args=[their_endpoint.pk]),
        reverse("dev-delivery", args=[their_delivery.pk]),
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        reverse("dev-app-rotate", args=[theirs.pk]),
        reverse("dev-app-revoke", args=[theirs.pk]),
        reverse("dev-endpoint-rotate", args=[their_endpoint.pk]),
        reverse("dev-endpoint-test", args=[their_endpoint.pk]),
        reverse("dev-endpoint-delete", args=[their_endpoint.pk]),
        reverse("dev-delivery-replay", args=[their_delivery.pk]),
    ):
        assert client.post(url, {"key": key()}).status_code == 404, url
    assert "别家ERP" not in text(client.get(APPS))
    assert their_endpoint.url not in text(client.get(DELIVERIES))
    with brand_scope(other_brand):
        theirs.refresh_from_db()
        assert theirs.status == "active" and not theirs.previous_secret_hash
        assert WebhookDelivery.objects.count() == 1
        assert WebhookEndpoint.objects.count() == 1


# --- creating an app: the secret once -------------------------------------------------------------


def test_creating_an_app_shows_its_secret_once(client, brand, brand_admin):
    login_as(client, brand_admin)
    form = client.get(NEW_APP)
    assert form.status_code == 200
    assert text(form).count('name="scopes"') >= 20  # every scope of the catalogue, by area
    data = app_post()
    response = client.post(NEW_APP, data)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    with brand_scope(brand):
        app = PartnerApp.objects.select_related("application").get()
    assert app.name == "门店收银"
    assert app.scopes == ["members:read", "orders:write"]
    assert app.ip_allowlist == ["203.0.113.0/24", "198.51.100.7/32"]
    assert app.rate_limit_per_minute == 120 and not app.test_mode
    secret = shown_secret(response)
    assert secret and check_password(secret, app.application.client_secret)
    assert app.application.client_id in text(response)
    assert 'data-testid="secret-warning"' in text(response)
    # Nothing keeps it: not the session, not the app's page.
    assert secret not in str(dict(client.session.items()))
    assert secret not in text(client.get(reverse("dev-app", args=[app.pk])))

    # Reloading the answer sends the same form again: the app is not made twice, and the secret
    # is not shown again.
    again = client.post(NEW_APP, data)
    assert again.status_code == 302 and again["Location"] == reverse("dev-app", args=[app.pk])
    follow = client.get(again["Location"])
    assert secret not in text(follow) and shown_secret(follow) is None
    assert count(brand, PartnerApp) == 1

    # The same key with other values is refused; a fresh key makes a second app.
    clash = client.post(NEW_APP, {**data, "name": "另一个"})
    assert clash.status_code == 400 and count(brand, PartnerApp) == 1
    second = client.post(NEW_APP, app_post(name="另一个", test_mode="on"))
    assert second.status_code == 200 and shown_secret(second) not in (None, secret)
    assert count(brand, PartnerApp) == 2 and count(brand, PartnerApp, test_mode=True) == 1


def test_a_bad_allowlist_or_no_scope_creates_nothing(client, brand, brand_admin):
    login_as(client, brand_admin)
    bad = client.post(NEW_APP, app_post(ip_allowlist="10.0.0.0/8\nnot-an-ip"))
    assert bad.status_code == 400 and "not-an-ip" in text(bad)
    assert client.post(NEW_APP, app_post(scopes=[])).status_code == 400
    assert client.post(NEW_APP, app_post(scopes=["members:read", "root:everything"])).status_code == 400
    assert client.post(NEW_APP, app_post(rate_limit_per_minute="0")).status_code == 400
    assert count(brand, PartnerApp) == 0
    assert shown_secret(bad) is None


def test_the_app_page_shows_scopes_limits_usage_and_calls(client, brand, brand_admin, app):
    with brand_scope(brand):
        PartnerCall.objects.create(brand=brand, app=app, method="POST", path="/api/v1/members/", status=201)
        PartnerCall.objects.create(
            brand=brand, app=app, method="GET", path="/api/v1/orders/", status=429, error_code="rate_limited"
        )
    login_as(client, brand_admin)
    page = text(client.get(reverse("dev-app", args=[app.pk])))
    assert app.application.client_id in page
    assert "members:read" in page and "orders:write" in page and "stores:write" not in page
    assert 'data-testid="usage-calls">2<' in page
    assert "rate_limited" in page
    assert 'data-testid="badge-test"' not in page and 'data-testid="badge-revoked"' not in page


def test_editing_an_app(client, brand, brand_admin, app):
    login_as(client, brand_admin)
    url = reverse("dev-app-edit", args=[app.pk])
    response = client.post(
        url,
        {"name": "新收银", "scopes": ["members:write"], "ip_allowlist": "", "rate_limit_per_minute": "60"},
    )
    assert response.status_code == 302
    with brand_scope(brand):
        app.refresh_from_db()
    assert (app.name, app.scopes, app.ip_allowlist, app.rate_limit_per_minute) == (
        "新收银",
        ["members:write"],
        [],
        60,
    )


# --- rotation and revocation ----------------------------------------------------------------------


def test_rotating_shows_the_new_secret_once_with_the_grace_end(client, brand, brand_admin, app):
    login_as(client, brand_admin)
    url = reverse("dev-app-rotate", args=[app.pk])
    form_key = key()
    response = client.post(url, {"key": form_key})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    with brand_scope(brand):
        app.refresh_from_db()
    secret = shown_secret(response)
    assert secret and check_password(secret, app.application.client_secret)
    assert app.previous_secret_hash and app.previous_secret_expires_at
    assert 'data-testid="grace-end"' in text(response)
    # A double submit does not rotate twice (the first secret stays the previous one).
    again = client.post(url, {"key": form_key})
    assert again.status_code == 302 and shown_secret(client.get(again["Location"])) is None
    with brand_scope(brand):
        app.refresh_from_db()
    assert check_password(secret, app.application.client_secret)
    assert 'data-testid="grace-end"' in text(client.get(reverse("dev-app", args=[app.pk])))


def test_revoking_an_app(client, brand, brand_admin, app, endpoint):
    login_as(client, brand_admin)
    response = client.post(reverse("dev-app-revoke", args=[app.pk]))
    assert response.status_code == 302
    with brand_scope(brand):
        app.refresh_from_db()
    assert app.status == "revoked" and app.revoked_at
    page = text(client.get(reverse("dev-app", args=[app.pk])))
    assert 'data-testid="badge-revoked"' in page and 'data-testid="revoked-note"' in page
    assert 'data-testid="rotate-secret"' not in page and 'data-testid="revoke-app"' not in page
    # A revoked app gets no new secret and no new endpoint.
    rotate = client.post(reverse("dev-app-rotate", args=[app.pk]), {"key": key()})
    assert rotate.status_code == 302 and shown_secret(rotate) is None
    client.post(
        reverse("dev-endpoint-new", args=[app.pk]),
        {"url": "https://other.example.com/h", "event_types": ["order.paid"], "key": key()},
    )
    assert count(brand, WebhookEndpoint) == 1


# --- webhook endpoints ----------------------------------------------------------------------------


def test_creating_an_endpoint_shows_its_signing_secret_once(client, brand, brand_admin, app, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    login_as(client, brand_admin)
    url = reverse("dev-endpoint-new", args=[app.pk])
    page = text(client.get(url))
    assert 'value="order.paid"' in page and 'value="member.joined"' in page
    data = {
        "url": HOOK_URL,
        "description": "ERP",
        "event_types": ["order.paid", "order.refunded"],
        "key": key(),
    }
    response = client.post(url, data)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    with brand_scope(brand):
        endpoint = WebhookEndpoint.objects.get()
    assert endpoint.app_id == app.pk and endpoint.url == HOOK_URL
    assert sorted(endpoint.event_types) == ["order.paid", "order.refunded"]
    assert shown_secret(response) == endpoint.secret
    again = client.post(url, data)
    assert again.status_code == 302 and again["Location"] == reverse("dev-endpoint", args=[endpoint.pk])
    assert endpoint.secret not in text(client.get(again["Location"]))
    assert count(brand, WebhookEndpoint) == 1
    # An unknown event type is refused by the form.
    assert client.post(url, {**data, "event_types": ["nope.nope"], "key": key()}).status_code == 400


def test_editing_disabling_rotating_and_deleting_an_endpoint(client, brand, brand_admin, app, endpoint):
    login_as(client, brand_admin)
    url = reverse("dev-endpoint", args=[endpoint.pk])
    saved = client.post(url, {"url": HOOK_URL + "/v2", "description": "新", "event_types": ["member.joined"]})
    assert saved.status_code == 302
    off = client.post(reverse("dev-endpoint-enable", args=[endpoint.pk]), {"enabled": "0"})
    assert off.status_code == 302
    with brand_scope(brand):
        endpoint.refresh_from_db()
    assert endpoint.url == HOOK_URL + "/v2" and endpoint.event_types == ["member.joined"]
    assert not endpoint.enabled
    client.post(reverse("dev-endpoint-enable", args=[endpoint.pk]), {"enabled": "1"})
    old_secret = endpoint.secret
    rotated = client.post(reverse("dev-endpoint-rotate", args=[endpoint.pk]), {"key": key()})
    with brand_scope(brand):
        endpoint.refresh_from_db()
    assert endpoint.enabled
    assert shown_secret(rotated) == endpoint.secret != old_secret
    assert endpoint.previous_secret == old_secret
    gone = client.post(reverse("dev-endpoint-delete", args=[endpoint.pk]))
    assert gone.status_code == 302 and gone["Location"] == reverse("dev-app", args=[app.pk])
    assert client.get(url).status_code == 404


def test_sending_a_test_event(client, brand, brand_admin, endpoint):
    login_as(client, brand_admin)
    response = client.post(reverse("dev-endpoint-test", args=[endpoint.pk]), {"key": key()})
    with brand_scope(brand):
        d = WebhookDelivery.objects.select_related("event").get()
    assert response.status_code == 302 and response["Location"] == reverse("dev-delivery", args=[d.pk])
    assert d.event.type == "ping" and d.endpoint_id == endpoint.pk


# --- the delivery log -----------------------------------------------------------------------------


def test_the_delivery_log_filters_and_shows_attempts(client, brand, brand_admin, delivery, endpoint):
    login_as(client, brand_admin)
    listing = text(client.get(DELIVERIES))
    assert f'data-testid="delivery-{delivery.pk}"' in listing
    assert f'data-testid="delivery-{delivery.pk}"' not in text(client.get(DELIVERIES + "?status=succeeded"))
    assert f'data-testid="delivery-{delivery.pk}"' in text(client.get(DELIVERIES + "?status=pending"))
    assert f'data-testid="delivery-{delivery.pk}"' in text(
        client.get(DELIVERIES + f"?endpoint={endpoint.pk}")
    )
    assert client.get(DELIVERIES + "?endpoint=garbage&status=nope").status_code == 200
    page = text(client.get(reverse("dev-delivery", args=[delivery.pk])))
    assert "Retail-Signature: t=1,v1=abc" in page
    assert "upstream down 当前不可用" in page
    assert ">503<" in page


def test_replaying_a_delivery_sends_it_once_more(client, brand, brand_admin, delivery):
    login_as(client, brand_admin)
    url = reverse("dev-delivery-replay", args=[delivery.pk])
    form_key = key()
    response = client.post(url, {"key": form_key})
    with brand_scope(brand):
        new = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert response.status_code == 302 and response["Location"] == reverse("dev-delivery", args=[new.pk])
    assert new.manual and new.event_id == delivery.event_id
    # A double click replays once.
    again = client.post(url, {"key": form_key})
    assert again["Location"] == response["Location"]
    assert count(brand, WebhookDelivery) == 2


def test_the_delivery_log_pages_by_older_entries(client, brand, brand_admin, endpoint, monkeypatch):
    from retail.developers import common

    monkeypatch.setattr(common, "PAGE_SIZE", 2)
    ids = [
        webhook_services.send_test_event(endpoint=endpoint, actor=Actor(user=brand_admin.user)).pk
        for _ in range(3)
    ]
    login_as(client, brand_admin)
    first = client.get(DELIVERIES)
    assert [r.pk for r in first.context["rows"]] == [ids[2], ids[1]]
    older = first.context["older"]
    second = client.get(DELIVERIES + f"?before={older}")
    assert [r.pk for r in second.context["rows"]] == [ids[0]]
    assert second.context["older"] is None


# --- partner activity -----------------------------------------------------------------------------


def test_the_activity_log_filters_by_app_status_and_method(client, brand, brand_admin, app):
    other = make_app(brand, brand_admin, name="ERP")
    with brand_scope(brand):
        ok = PartnerCall.objects.create(
            brand=brand, app=app, method="GET", path="/api/v1/members/", status=200
        )
        bad = PartnerCall.objects.create(
            brand=brand, app=app, method="POST", path="/api/v1/orders/", status=409, error_code="conflict"
        )
        theirs = PartnerCall.objects.create(
            brand=brand, app=other, method="PATCH", path="/api/v1/members/1/", status=200
        )
    login_as(client, brand_admin)

    def shown(query: str) -> set[int]:
        return {c.pk for c in client.get(ACTIVITY + query).context["rows"]}

    assert shown("") == {ok.pk, bad.pk, theirs.pk}
    assert shown(f"?app={app.pk}") == {ok.pk, bad.pk}
    assert shown("?status=error") == {bad.pk}
    assert shown("?status=ok&method=PATCH") == {theirs.pk}
    assert shown("?method=DELETE") == set()
    assert shown("?app=999999999&method=nope") == {ok.pk, bad.pk, theirs.pk}  # bad filters are ignored


# --- docs -----------------------------------------------------------------------------------------


def test_the_docs_page_has_the_guide_the_scopes_and_the_event_schemas(client, brand_admin):
    login_as(client, brand_admin)
    page = text(client.get(DOCS))
    assert 'data-testid="docs-body"' in page and "<h2" in page  # docs/partners.md, as HTML
    for scope in ("members:read", "webhooks:manage", "attendance:read"):
        assert scope in page
    assert 'data-testid="schema-order.paid"' in page and "&quot;type&quot;: &quot;object&quot;" in page
    assert 'href="/api/v1/docs/"' in page and 'href="/api/v1/redoc/"' in page
