"""Partner calls: the Bearer token of a request under /api/, resolved by retail.middleware into
the app, its brand and its service staff; DRF's authentication class hands that on."""

from __future__ import annotations

import hashlib
import ipaddress

from django.http import JsonResponse
from django.utils.translation import gettext as _
from oauth2_provider.models import get_access_token_model
from rest_framework import authentication, exceptions

REALM = 'Bearer realm="api"'


def bearer_token(request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header ("" for a malformed one), else None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value if value and " " not in value and len(value) <= 512 else ""


def access_token_for(raw: str):
    """The unexpired access token with this value (looked up by its checksum), else None."""
    if not raw:
        return None
    checksum = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    token = (
        get_access_token_model()
        .objects.only("id", "application_id", "expires", "scope")
        .filter(token_checksum=checksum)
        .first()
    )
    if token is None or token.application_id is None or token.is_expired():
        return None
    return token


def invalid_token(message: str | None = None) -> JsonResponse:
    response = JsonResponse(
        {
            "error": {
                "code": "invalid_token",
                "message": str(message or _("The access token is missing, invalid or expired.")),
                "fields": {},
            }
        },
        status=401,
    )
    response["WWW-Authenticate"] = f'{REALM}, error="invalid_token"'
    return response


def ip_allowed(app, ip: str | None) -> bool:
    """Whether a call from ``ip`` may use the app (an empty allowlist lets every address in)."""
    if not app.ip_allowlist:
        return True
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    for rule in app.ip_allowlist:
        try:
            if address in ipaddress.ip_network(rule, strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False


def granted_scopes(request) -> set[str]:
    """The scopes a partner call may use: those of its token that its app still has."""
    token = getattr(request, "partner_token", None)
    app = getattr(request, "partner_app", None)
    if token is None or app is None:
        return set()
    return set((token.scope or "").split()) & set(app.scopes or ())


class PartnerTokenAuthentication(authentication.BaseAuthentication):
    """A partner call: (the app's service user, its access token), as resolved by the middleware.
    No other credential (a session cookie) is consulted on a Bearer request."""

    def authenticate(self, request):
        django_request = request._request
        app = getattr(django_request, "partner_app", None)
        if app is not None and getattr(django_request, "staff", None) is not None:
            return django_request.staff.user, django_request.partner_token
        if bearer_token(django_request) is not None:
            # A Bearer header the middleware did not take (outside /api/): never a session.
            raise exceptions.AuthenticationFailed(_("The access token is missing, invalid or expired."))
        return None

    def authenticate_header(self, request):
        # Only callers presenting a Bearer token are told about it; a session caller without
        # a login keeps the 403 not_authenticated answer.
        if bearer_token(request._request) is not None:
            return REALM
        return None
