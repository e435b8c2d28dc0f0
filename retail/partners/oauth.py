"""django-oauth-toolkit plumbing of partner credentials: the request validator (client
authentication with the rotation grace, revoked apps refused) and the token endpoint."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from django.contrib.auth.hashers import check_password
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.oauth2_validators import OAuth2Validator
from rest_framework import permissions, serializers
from rest_framework.parsers import FormParser
from rest_framework.views import APIView

from retail.partners.selectors import app_for_application


class PartnerOAuth2Validator(OAuth2Validator):
    """Only active partner apps get tokens; during a secret rotation's grace period the previous
    secret authenticates too (kept as a Django password hash on the partner app)."""

    def _load_application(self, client_id, request):
        client = super()._load_application(client_id, request)
        if client is None:
            return None
        partner = getattr(request, "partner_app", None)
        if partner is None or partner.application_id != client.pk:
            partner = app_for_application(client.pk)
            request.partner_app = partner
        if partner is None or not partner.is_active:
            request.client = None
            return None
        return client

    def authenticate_client(self, request, *args, **kwargs):
        if super().authenticate_client(request, *args, **kwargs):
            return True
        return self._authenticate_previous_secret(request)

    def _presented_credentials(self, request) -> list[tuple[str, str]]:
        found = []
        auth = self._extract_basic_auth(request)
        if auth:
            try:
                decoded = base64.b64decode(auth).decode("utf-8")
                client_id, secret = map(unquote_plus, decoded.split(":", 1))
                found.append((client_id, secret))
            except (TypeError, ValueError, binascii.Error, UnicodeDecodeError):
                pass
        client_id = getattr(request, "client_id", None)
        secret = getattr(request, "client_secret", None)
        if client_id and secret:
            found.append((client_id, secret))
        return found

    def _authenticate_previous_secret(self, request) -> bool:
        for client_id, secret in self._presented_credentials(request):
            if self._load_application(client_id, request) is None:
                continue
            partner = request.partner_app
            if partner.previous_secret_usable() and check_password(secret, partner.previous_secret_hash):
                return True
        return False


class TokenRequestSerializer(serializers.Serializer):
    grant_type = serializers.ChoiceField(choices=["client_credentials"])
    scope = serializers.CharField(
        required=False,
        help_text="Space-separated scopes, each one of the app's; all of the app's scopes if left out.",
    )
    client_id = serializers.CharField(
        required=False, help_text="With client_secret, when not sent as HTTP Basic authentication."
    )
    client_secret = serializers.CharField(required=False)


TokenSerializer = inline_serializer(
    "OAuthToken",
    {
        "access_token": serializers.CharField(),
        "token_type": serializers.ChoiceField(choices=["Bearer"]),
        "expires_in": serializers.IntegerField(min_value=0, max_value=86400),
        "scope": serializers.CharField(allow_blank=True),
    },
)

OAuthErrorSerializer = inline_serializer(
    "OAuthError",
    {
        "error": serializers.CharField(
            help_text="invalid_request, invalid_client, invalid_grant, unauthorized_client, "
            "unsupported_grant_type or invalid_scope (RFC 6749 §5.2)"
        ),
        "error_description": serializers.CharField(required=False),
    },
)


class TokenView(APIView):
    """An access token for a partner app (OAuth2 client credentials, RFC 6749 §4.4).

    Authenticate the app with HTTP Basic (`client_id:client_secret`) or with `client_id` and
    `client_secret` in the form. Tokens expire after `expires_in` seconds; ask for a new one then.
    Errors here follow OAuth2 (`{"error": ..., "error_description": ...}`), not the API's error
    shape."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    parser_classes = [FormParser]

    @extend_schema(
        operation_id="oauth_token",
        tags=["oauth"],
        auth=[{"partnerBasic": []}, {}],
        request={"application/x-www-form-urlencoded": TokenRequestSerializer},
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(
                OAuthErrorSerializer,
                description="invalid_request, unsupported_grant_type, invalid_scope (a scope the "
                "app does not have) or unauthorized_client",
            ),
            401: OpenApiResponse(
                OAuthErrorSerializer,
                description="invalid_client: unknown client, wrong secret, or a revoked app",
            ),
        },
        examples=[
            OpenApiExample(
                "Token",
                value={
                    "access_token": "…",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "scope": "members:read",
                },
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def post(self, request, *args, **kwargs):
        url, headers, body, status = get_oauthlib_core().create_token_response(request._request)
        response = HttpResponse(content=body, status=status, content_type="application/json")
        for key, value in headers.items():
            response[key] = value
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response
