"""The developer centre (开放平台) of the brand dashboard in headless Chromium: a brand admin creates
a partner app and copies its secret from the page that shows it once, adds a webhook endpoint on a
local receiver, sends a test event and replays it, reads the delivery log with its attempts, the
API activity and the docs; then the same pages at phone size. Screenshots go to
artifacts/screenshots/dev-*-{phone,desktop}.png (desktop at 1366x900).

Hooks are data-testid attributes and form names, not wording: the Chinese comes separately."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
from django.contrib.auth.hashers import check_password
from playwright.sync_api import expect

from retail.events import Actor
from retail.partners import services as partner_services
from retail.partners.models import PartnerApp, PartnerCall
from retail.tenancy import brand_scope
from retail.webhooks import services as webhook_services
from retail.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import PASSWORD
from tests.helpers.browser import ENGLISH, login, no_horizontal_overflow, shot
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1366, "height": 900}


class _Receiver(http.server.BaseHTTPRequestHandler):
    """A partner's webhook receiver on this machine: answers 200 with a small JSON body."""

    received: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append({"headers": dict(self.headers), "body": body})
        answer = json.dumps({"received": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    _Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/retail"
    server.shutdown()
    server.server_close()


def open_page(browse, size: str):
    page = browse.page(size)
    if size == "desktop":
        page.set_viewport_size(DESKTOP)
    return page


def check(page, name: str):
    assert no_horizontal_overflow(page), f"{name} overflows at {page.size_name}"
    assert page.evaluate(
        "Array.from(document.styleSheets).some(s => (s.href || '').includes('developers-dash.css'))"
    )
    # The page's own words are Chinese (the docs body is the developers' guide, left out here).
    words = page.evaluate(
        "(() => { const m = document.querySelector('main').cloneNode(true);"
        " m.querySelectorAll('.dv-doc, pre, code, input').forEach(e => e.remove()); return m.innerText; })()"
    )
    leaked = ENGLISH.findall(words)
    assert not leaked, f"English on {name}: {leaked}"
    page.evaluate("window.scrollTo(0, 0)")  # a full-page shot of a scrolled page misplaces sticky parts
    return shot(page, name)


def _delivered(brand, pk) -> bool:
    with brand_scope(brand):
        return WebhookDelivery.objects.filter(pk=pk, status="succeeded").exists()


def _seed_activity(brand, app):
    with brand_scope(brand):
        for i, (method, path, status, code) in enumerate(
            [
                ("POST", "/api/v1/members/", 201, ""),
                ("GET", "/api/v1/members/?phone=138****0001", 200, ""),
                ("POST", "/api/v1/cloudstore/orders/", 409, "idempotency_conflict"),
                ("PATCH", "/api/v1/members/12/", 200, ""),
                ("GET", "/api/v1/orders/", 429, "rate_limited"),
                ("DELETE", "/api/v1/webhooks/endpoints/3/", 204, ""),
            ]
        ):
            PartnerCall.objects.create(
                brand=brand,
                app=app,
                method=method,
                path=path,
                status=status,
                error_code=code,
                duration_ms=12 + i * 7,
                ip="203.0.113.9",
                idempotency_key="9f1c0d6e-order-20261206" if method == "POST" else "",
            )


def test_admin_creates_an_app_and_a_webhook_and_reads_the_logs(browse, demo, receiver):
    brand, admin = demo["brand"], demo["admin"]
    page = open_page(browse, "desktop")
    login(page, "yy_admin", PASSWORD)
    page.get_by_test_id("nav-developers").click()
    page.wait_for_url("**/dashboard/developers/")
    expect(page.get_by_test_id("no-apps")).to_be_visible()

    # A new app: name, scopes by area, an IP allowlist.
    page.get_by_test_id("new-app").click()
    page.wait_for_url("**/dashboard/developers/apps/new/")
    page.fill("input[name=name]", "门店收银系统")
    for scope in ("members:read", "members:write", "orders:write", "webhooks:manage"):
        page.check(f"input[name=scopes][value='{scope}']")
    page.fill("textarea[name=ip_allowlist]", "203.0.113.0/24\n198.51.100.7")
    page.fill("input[name=rate_limit_per_minute]", "300")
    check(page, "dev-app-new")
    page.get_by_test_id("app-submit").click()

    # The secret, once, with a copy button.
    page.get_by_test_id("secret-once").wait_for()
    secret = page.input_value("[data-testid=secret]")
    with brand_scope(brand):
        app = PartnerApp.objects.select_related("application").get()
    assert check_password(secret, app.application.client_secret)
    assert page.input_value("[data-testid=client-id]") == app.application.client_id
    expect(page.get_by_test_id("secret-warning")).to_be_visible()
    page.get_by_test_id("copy-secret").click()
    check(page, "dev-secret")
    page.get_by_test_id("secret-done").click()
    page.wait_for_url(f"**/dashboard/developers/apps/{app.pk}/")
    assert secret not in page.content()

    # A webhook endpoint on the local receiver: its signing secret, once.
    page.get_by_test_id("new-endpoint").click()
    page.fill("input[name=url]", receiver)
    page.fill("input[name=description]", "ERP 订单同步")
    page.check("input[name=event_types][value='order.paid']")
    page.check("input[name=event_types][value='order.refunded']")
    page.get_by_test_id("endpoint-submit").click()
    page.get_by_test_id("secret-once").wait_for()
    with brand_scope(brand):
        endpoint = WebhookEndpoint.objects.get()
    assert page.input_value("[data-testid=secret]") == endpoint.secret
    page.get_by_test_id("secret-done").click()
    page.wait_for_url(f"**/dashboard/developers/webhooks/{endpoint.pk}/")

    # A test event: delivered to the receiver, its attempt in the log; then sent again.
    page.get_by_test_id("send-test").click()
    page.wait_for_url("**/dashboard/developers/deliveries/*/")
    wait_until(lambda: _Receiver.received, 10, "the receiver got the test event")
    with brand_scope(brand):
        first = WebhookDelivery.objects.get()
    wait_until(lambda: _delivered(brand, first.pk), 10, "the test event is delivered")
    page.reload()
    assert page.locator("details[data-testid^=attempt-]").count() == 1
    assert '"received": true' in page.inner_text("[data-testid=response-body]")
    assert "Retail-Signature" in page.inner_text("[data-testid=attempts]")
    page.get_by_test_id("replay").click()
    page.wait_for_url("**/dashboard/developers/deliveries/*/")
    assert not page.url.endswith(f"/deliveries/{first.pk}/")
    wait_until(lambda: len(_Receiver.received) >= 2, 10, "the replay reached the receiver")
    page.reload()
    check(page, "dev-delivery")

    # A second endpoint that does not answer: a failed attempt with its error.
    dead, _secret = webhook_services.endpoint_create(
        brand=brand,
        actor=Actor(user=admin.user),
        app=app,
        url="http://127.0.0.1:9/hooks",
        event_types=["member.joined"],
        description="旧系统",
    )
    failed = webhook_services.send_test_event(endpoint=dead, actor=Actor(user=admin.user))
    page.goto(f"/dashboard/developers/deliveries/{failed.pk}/")
    page.get_by_test_id("attempts").wait_for()
    check(page, "dev-delivery-failed")

    page.goto("/dashboard/developers/deliveries/")
    assert page.locator("tr[data-testid^=delivery-]").count() == 3
    check(page, "dev-deliveries")
    page.select_option("select[name=status]", "succeeded")
    page.locator("form[data-testid=delivery-filter] button[type=submit]").click()
    page.wait_for_url("**/deliveries/?*")
    assert page.locator("tr[data-testid^=delivery-]").count() == 2

    # The app page: scopes, limits, usage and the last calls; the activity log with filters.
    _seed_activity(brand, app)
    page.goto(f"/dashboard/developers/apps/{app.pk}/")
    assert page.inner_text("[data-testid=usage-calls]") == "6"
    assert page.inner_text("[data-testid=rate-limit]") == "300"
    check(page, "dev-app")
    page.goto("/dashboard/developers/activity/")
    assert page.locator("tr[data-testid^=call-]").count() == 6
    page.select_option("select[name=status]", "error")
    page.locator("form[data-testid=activity-filter] button[type=submit]").click()
    page.wait_for_url("**/activity/?*")
    assert page.locator("tr[data-testid^=call-]").count() == 2
    check(page, "dev-activity")

    # Rotating the secret: a confirmation, then the new secret with the grace end.
    page.goto(f"/dashboard/developers/apps/{app.pk}/")
    page.get_by_test_id("rotate-secret").click()
    page.get_by_test_id("rotate-confirm").click()
    page.get_by_test_id("grace-end").wait_for()
    new_secret = page.input_value("[data-testid=secret]")
    assert new_secret != secret
    check(page, "dev-secret-rotated")

    # Other apps in the list: a test-mode one and a revoked one.
    partner_services.app_create(
        brand=brand, actor=Actor(user=admin.user), name="网店测试", scopes=["orders:read"], test_mode=True
    )
    old, _s = partner_services.app_create(
        brand=brand, actor=Actor(user=admin.user), name="旧版 ERP", scopes=["members:read"]
    )
    page.goto(f"/dashboard/developers/apps/{old.pk}/")
    page.get_by_test_id("revoke-app").click()
    page.get_by_test_id("revoke-confirm").click()
    page.get_by_test_id("revoked-note").wait_for()
    page.goto("/dashboard/developers/")
    assert page.locator("tr[data-testid^=app-]").count() == 3
    check(page, "dev-apps")

    page.goto("/dashboard/developers/docs/")
    assert page.get_by_test_id("docs-body").inner_html().count("<h2") >= 3
    assert page.locator("[data-testid='schema-order.paid']").count() == 1
    assert page.get_by_test_id("swagger-link").get_attribute("href") == "/api/v1/docs/"
    check(page, "dev-docs")


def test_the_developer_pages_work_at_phone_size(browse, demo, receiver):
    brand, admin = demo["brand"], demo["admin"]
    actor = Actor(user=admin.user)
    page = open_page(browse, "phone")
    login(page, "yy_admin", PASSWORD)

    page.goto("/dashboard/developers/apps/new/")
    page.fill("input[name=name]", "会员小程序")
    page.check("input[name=scopes][value='members:read']")
    page.check("input[name=scopes][value='points:write']")
    page.check("input[name=test_mode]")
    check(page, "dev-app-new")
    page.get_by_test_id("app-submit").click()
    page.get_by_test_id("secret-once").wait_for()
    with brand_scope(brand):
        app = PartnerApp.objects.select_related("application").get()
    assert app.test_mode
    assert check_password(page.input_value("[data-testid=secret]"), app.application.client_secret)
    check(page, "dev-secret")

    endpoint, _secret = webhook_services.endpoint_create(
        brand=brand, actor=actor, app=app, url=receiver, event_types=["member.joined", "order.paid"]
    )
    delivery = webhook_services.send_test_event(endpoint=endpoint, actor=actor)
    wait_until(lambda: _delivered(brand, delivery.pk), 10, "the test event is delivered")
    _seed_activity(brand, app)

    page.goto("/dashboard/developers/")
    check(page, "dev-apps")
    page.goto(f"/dashboard/developers/apps/{app.pk}/")
    expect(page.get_by_test_id("badge-test")).to_be_visible()
    check(page, "dev-app")
    page.goto(f"/dashboard/developers/webhooks/{endpoint.pk}/")
    check(page, "dev-endpoint")
    page.goto("/dashboard/developers/deliveries/")
    check(page, "dev-deliveries")
    page.goto(f"/dashboard/developers/deliveries/{delivery.pk}/")
    assert page.locator("details[data-testid^=attempt-]").count() == 1
    check(page, "dev-delivery")
    page.goto("/dashboard/developers/activity/")
    check(page, "dev-activity")
    page.goto("/dashboard/developers/docs/")
    check(page, "dev-docs")
