"""Partner credentials: apps, their hashed secrets, OAuth2 client-credentials tokens, secret
rotation with a grace period, revocation."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core.exceptions import ValidationError
from django.utils import timezone
from oauth2_provider.models import AccessToken

from retail.models import AuditLog, Staff
from retail.partners import services
from retail.partners.models import PartnerApp
from retail.tenancy import brand_scope
from tests.helpers.partners import bearer, get_token, make_app, token_response

pytestmark = pytest.mark.django_db


def _app(app):
    with brand_scope(app.brand_id):
        return PartnerApp.objects.select_related("application", "service_staff").get(pk=app.pk)


def test_an_app_gets_a_secret_shown_once_and_stored_hashed(brand, brand_admin):
    app, secret = make_app(brand, brand_admin, scopes=["stores:read", "members:read"])
    app = _app(app)
    assert len(secret) >= 40 and secret not in app.application.client_secret
    identify_hasher(app.application.client_secret)  # a Django password hash
    assert app.application.client_type == "confidential"
    assert app.application.authorization_grant_type == "client-credentials"
    assert app.scopes == ["stores:read", "members:read"]
    assert app.rate_limit_per_minute == 600 and app.created_by_id == brand_admin.pk
    staff = app.service_staff
    assert staff.kind == Staff.Kind.APP and staff.role == Staff.Role.BRAND_ADMIN
    assert staff.status == Staff.Status.ACTIVE and not staff.user.is_active
    assert not staff.user.has_usable_password()
    with brand_scope(brand):
        entry = AuditLog.objects.get(action="partner_app.created")
    assert entry.actor == brand_admin.user and entry.target_id == str(app.pk)
    assert secret not in str(entry.data)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"scopes": ["members:read", "root:all"]}, "scopes"),
        ({"ip_allowlist": ["10.0.0.0/8", "not-an-ip"]}, "ip_allowlist"),
        ({"rate_limit_per_minute": 0}, "rate_limit_per_minute"),
        ({"name": "  "}, "name"),
    ],
)
def test_bad_app_settings_are_refused(brand, brand_admin, kwargs, field):
    with pytest.raises(ValidationError) as exc:
        make_app(brand, brand_admin, **kwargs)
    assert field in exc.value.message_dict
    with brand_scope(brand):
        assert not PartnerApp.objects.exists()


def test_client_credentials_give_a_bearer_token_with_the_apps_scopes(client, brand, brand_admin, settings):
    app, secret = make_app(brand, brand_admin, scopes=["stores:read", "members:read"])
    resp = token_response(client, app, secret)
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == settings.PARTNER_TOKEN_SECONDS == 3600
    assert set(body["scope"].split()) == {"stores:read", "members:read"}
    assert resp["Cache-Control"] == "no-store"
    token = AccessToken.objects.get(application=app.application)
    assert token.token == ""  # only its checksum is kept
    assert timezone.now() + datetime.timedelta(seconds=3500) < token.expires
    # Credentials in the form work too (RFC 6749 allows it).
    assert token_response(client, app, secret, form_credentials=True).status_code == 200


def test_wrong_secret_or_unknown_client_is_invalid_client(client, brand, brand_admin):
    app, secret = make_app(brand, brand_admin)
    resp = token_response(client, app, secret[:-1] + ("x" if secret[-1] != "x" else "y"))
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    app.application.client_id = "nobody"
    assert token_response(client, app, secret).json()["error"] == "invalid_client"
    assert not AccessToken.objects.exists()


def test_a_token_carries_only_scopes_of_its_app(client, brand, brand_admin):
    app, secret = make_app(brand, brand_admin, scopes=["stores:read", "members:read"])
    resp = token_response(client, app, secret, scope="members:read")
    assert resp.status_code == 200 and resp.json()["scope"] == "members:read"
    resp = token_response(client, app, secret, scope="members:read orders:write")
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_scope"


def test_other_grant_types_are_refused(client, brand, brand_admin):
    app, secret = make_app(brand, brand_admin)
    resp = client.post(
        "/api/v1/oauth/token/",
        f"grant_type=password&username=x&password=y&client_id={app.application.client_id}&client_secret={secret}",
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 400 and resp.json()["error"] == "unsupported_grant_type"


def test_an_expired_token_is_refused_with_a_bearer_challenge(client, brand, brand_admin, store):
    app, secret = make_app(brand, brand_admin)
    token = get_token(client, app, secret)
    assert client.get("/api/v1/stores/", **bearer(token)).status_code == 200
    AccessToken.objects.filter(application=app.application).update(expires=timezone.now())
    resp = client.get("/api/v1/stores/", **bearer(token))
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "invalid_token"
    assert resp["WWW-Authenticate"].startswith('Bearer realm="api"')
    bad = client.get("/api/v1/stores/", **bearer("not-a-token"))
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_token"


def test_rotation_keeps_the_old_secret_working_during_the_grace_period(client, brand, brand_admin):
    app, old = make_app(brand, brand_admin)
    new = services.app_rotate_secret(app=app, actor=brand_admin, grace_hours=24)
    assert new != old
    assert token_response(client, app, new).status_code == 200
    assert token_response(client, app, old).status_code == 200
    assert token_response(client, app, old, form_credentials=True).status_code == 200
    with brand_scope(brand):
        PartnerApp.objects.filter(pk=app.pk).update(previous_secret_expires_at=timezone.now())
    resp = token_response(client, app, old)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    assert token_response(client, app, new).status_code == 200
    with brand_scope(brand):
        entry = AuditLog.objects.get(action="partner_app.secret_rotated")
    assert entry.data == {"grace_hours": 24}


def test_rotation_without_grace_stops_the_old_secret_and_its_tokens_at_once(
    client, brand, brand_admin, store
):
    app, old = make_app(brand, brand_admin)
    token = get_token(client, app, old)
    new = services.app_rotate_secret(app=app, actor=brand_admin, grace_hours=0)
    assert token_response(client, app, old).status_code == 401
    assert client.get("/api/v1/stores/", **bearer(token)).status_code == 401
    assert token_response(client, app, new).status_code == 200


def test_a_second_rotation_ends_the_first_secret(client, brand, brand_admin):
    app, first = make_app(brand, brand_admin)
    second = services.app_rotate_secret(app=app, actor=brand_admin)
    third = services.app_rotate_secret(app=app, actor=brand_admin)
    assert token_response(client, app, first).status_code == 401
    assert token_response(client, app, second).status_code == 200
    assert token_response(client, app, third).status_code == 200


def test_a_revoked_app_gets_no_token_and_its_tokens_stop(client, brand, brand_admin, store):
    app, secret = make_app(brand, brand_admin)
    token = get_token(client, app, secret)
    services.app_revoke(app=app, actor=brand_admin)
    resp = token_response(client, app, secret)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    assert client.get("/api/v1/stores/", **bearer(token)).status_code == 401
    app = _app(app)
    assert app.status == PartnerApp.Status.REVOKED and app.revoked_at is not None
    assert app.service_staff.status == Staff.Status.LEFT
    services.app_revoke(app=app, actor=brand_admin)  # again: nothing changes
    with brand_scope(brand):
        assert AuditLog.objects.filter(action="partner_app.revoked").count() == 1
    with pytest.raises(ValidationError):
        services.app_rotate_secret(app=app, actor=brand_admin)


def test_update_changes_settings_and_fewer_scopes_apply_to_issued_tokens(client, brand, brand_admin, store):
    app, secret = make_app(brand, brand_admin, scopes=["stores:read", "members:read"])
    token = get_token(client, app, secret)
    app = services.app_update(
        app=app, actor=brand_admin, name="ERP", scopes=["members:read"], rate_limit_per_minute=30
    )
    app = _app(app)
    assert (app.name, app.scopes, app.rate_limit_per_minute) == ("ERP", ["members:read"], 30)
    assert app.service_staff.name == "API · ERP"
    resp = client.get("/api/v1/stores/", **bearer(token))
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "insufficient_scope"
    with brand_scope(brand):
        entry = AuditLog.objects.get(action="partner_app.updated")
    assert entry.data["changes"]["scopes"] == [["stores:read", "members:read"], ["members:read"]]
