"""Partner apps in tests: create one, get a token, call the API with it."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

from retail.partners import services

TOKEN_URL = "/api/v1/oauth/token/"


def make_app(brand, actor, *, scopes=("members:read", "stores:read"), **kwargs):
    """A partner app of ``brand`` created by ``actor`` (a brand admin's Staff): (app, secret)."""
    kwargs.setdefault("name", "收银系统")
    return services.app_create(brand=brand, actor=actor, scopes=list(scopes), **kwargs)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token_response(client, app, secret, *, scope: str | None = None, form_credentials=False, **extra):
    """POST the token endpoint (client credentials) as the app; the raw response."""
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    headers = {}
    if form_credentials:
        data.update(client_id=app.application.client_id, client_secret=secret)
    else:
        headers["HTTP_AUTHORIZATION"] = basic(app.application.client_id, secret)
    return client.post(
        TOKEN_URL, urlencode(data), content_type="application/x-www-form-urlencoded", **headers, **extra
    )


def get_token(client, app, secret, **kwargs) -> str:
    resp = token_response(client, app, secret, **kwargs)
    assert resp.status_code == 200, resp.content
    return resp.json()["access_token"]


def bearer(token: str) -> dict:
    """Request headers of a partner call."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}
