"""The API's OpenAPI description: every operation documents the one error shape and the error
statuses it can answer, decided here once rather than per view."""

from __future__ import annotations

import inspect

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.drainage import warn
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import is_serializer
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.viewsets import ViewSetMixin

from retail import idempotency
from retail.api_fields import local_time_fields, unbounded_fields

# What each error status means, for every operation that can answer it.
ERROR_DESCRIPTIONS = {
    400: "invalid: the request's parameters or body are wrong (`fields` names each one), "
    "or another code saying why the request cannot be done",
    401: "not_authenticated (no credentials) or invalid_token (the Bearer token is unknown, "
    "expired or revoked: get a new one); answered with `WWW-Authenticate`",
    403: "not_authenticated (no session), no_brand, brand_suspended, permission_denied "
    "(role not allowed, CSRF), insufficient_scope (the partner token lacks the operation's scope) "
    "or ip_not_allowed (outside the partner app's IP allowlist)",
    404: "not_found: the object, or an object the request names, does not exist in your brand",
    409: f"{idempotency.CONFLICT_CODE}: the key (or external id) was already used for a different request",
    413: "payload_too_large: the request body is too large",
    415: "unsupported_media_type: the body is not JSON, a form or multipart form data",
    429: "throttled or rate_limited: too many requests; `Retry-After` says after how many seconds "
    "to try again",
}
# Headers of error answers.
ERROR_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": 'How to authenticate, e.g. `Bearer realm="api"`.',
        }
    },
    429: {
        "Retry-After": {
            "schema": {"type": "integer", "minimum": 0},
            "description": "Seconds until a request may be sent again.",
        }
    },
}

# The header of every operation that moves money or points (see retail.idempotency).
IDEMPOTENCY_HEADER = OpenApiParameter(
    idempotency.HEADER,
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="Unique per money-or-points-moving request; a replay returns the first result.",
)
# The header every other POST takes (BrandAPIView answers it once per key for 24 hours).
OPTIONAL_IDEMPOTENCY_HEADER = OpenApiParameter(
    idempotency.HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=f"Optional, at most {idempotency.KEY_MAX_CHARS} characters: the same key with the same "
    f"body within {idempotency.RECORD_HOURS} hours answers the first answer again (with "
    "`Idempotent-Replayed: true`) without doing it twice; the key with another body is a 409.",
)


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable and machine-readable, e.g. `invalid`, `not_found`.")
    message = serializers.CharField(help_text="For people, in the request's language.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="For `invalid`: field path (`lines.0.sku`) → messages; `{}` otherwise.",
    )


class ErrorSerializer(serializers.Serializer):
    """Every error answer of the API, whatever its status."""

    error = ErrorBodySerializer()


def source_may_be_null(field) -> bool:
    """Whether a serializer field can answer null: declared so, defaulting to None, or reading a
    nullable model field (or through a nullable relation) of its ModelSerializer."""
    if field.allow_null or (field.default is None and not field.required):
        return True
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or not getattr(field, "source_attrs", None):
        return False
    for attr in field.source_attrs:
        fields = {f.attname: f for f in model._meta.concrete_fields}
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            model_field = fields.get(attr)
        if model_field is None:
            return False
        if model_field.null:
            return True
        model = model_field.related_model
        if model is None:
            return False
    return False


def _has(operation: dict, where: str) -> bool:
    return any(p.get("in") == where for p in operation.get("parameters", []))


def error_statuses(method: str, operation: dict, extra=()) -> list[int]:
    """The error statuses an operation can answer, from its shape."""
    has_body = "requestBody" in operation
    names = {p.get("name", "").lower() for p in operation.get("parameters", [])}
    statuses = {401, 403, 429, *extra}
    unsafe = method in ("POST", "PUT", "PATCH", "DELETE")
    if has_body or unsafe or _has(operation, "query") or _has(operation, "header"):
        statuses.add(400)
    if has_body or _has(operation, "path") or _has(operation, "query"):
        statuses.add(404)
    if method in ("POST", "PUT", "PATCH") and idempotency.HEADER.lower() in names:
        statuses.add(409)
    if has_body:
        statuses.add(413)
    if has_body or method in ("POST", "PUT", "PATCH"):
        statuses.add(415)  # a body of another type (also sent to an operation that takes none)
    return sorted(statuses)


def answers_once(view) -> bool:
    """Whether BrandAPIView answers the view's POST once per Idempotency-Key (its generic record)."""
    from retail.api_base import BrandAPIView

    return isinstance(view, BrandAPIView) and not view.own_idempotency


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    """A partner app's Bearer token (OAuth2 client credentials): each operation names the one scope
    it needs (``BrandAPIView.scopes``); an operation for staff sessions only names none."""

    target_class = "retail.partners.auth.PartnerTokenAuthentication"
    optional = True  # no warning while the class is not listed (tests check the scheme is there)
    name = "oauth2"

    def get_security_requirement(self, auto_schema):
        scope = (getattr(auto_schema.view, "scopes", None) or {}).get(auto_schema.method)
        return {self.name: [scope]} if scope else None

    def get_security_definition(self, auto_schema):
        from retail.partners.scopes import SCOPES

        scopes = {name: str(text) for name, text in SCOPES.items()}
        flows = {
            flow: {"tokenUrl": spectacular_settings.OAUTH2_TOKEN_URL, "scopes": scopes}
            for flow in spectacular_settings.OAUTH2_FLOWS
        }
        return {
            "type": "oauth2",
            "description": "A partner app's client credentials exchanged at the token URL for a Bearer "
            "token, sent as `Authorization: Bearer <token>`.",
            "flows": flows,
        }


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, plus the error answers of every operation.

    A view may name further statuses it answers in ``error_statuses`` (e.g. a 404 without any
    parameter: "you have no payout account")."""

    def get_description(self) -> str:
        # A view without a docstring of its own would show the brand base's.
        from retail.api_base import BrandAPIView

        description = super().get_description()
        inherited = {inspect.cleandoc(c.__doc__ or "") for c in (BrandAPIView,)}
        return "" if description.strip() in inherited else description

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if direction == "response" and isinstance(field, serializers.Field) and source_may_be_null(field):
            meta["nullable"] = True
        return meta

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.TimeField) and schema.get("format") == "time":
            # A wall-clock time of day ("10:00:00"): RFC 3339's "time" would need an offset.
            schema = {k: v for k, v in schema.items() if k != "format"}
            schema["pattern"] = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$"
        return schema

    def _get_paginator(self):
        # Viewset actions other than GETs (e.g. POST .../tags/) answer plain lists.
        if isinstance(self.view, ViewSetMixin) and self.method != "GET":
            return None
        return super()._get_paginator()

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if self.method == "POST" and answers_once(self.view):
            params.append(OPTIONAL_IDEMPOTENCY_HEADER)
        return params

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        component = self.resolve_serializer(ErrorSerializer, "response")
        extra = getattr(self.view, "error_statuses", ())
        responses = operation.setdefault("responses", {})
        for code in error_statuses(self.method, operation, extra):
            responses.setdefault(
                str(code),
                {
                    "content": {"application/json": {"schema": component.ref}},
                    "description": ERROR_DESCRIPTIONS[code],
                    **({"headers": ERROR_HEADERS[code]} if code in ERROR_HEADERS else {}),
                },
            )
        operation["responses"] = dict(sorted(responses.items()))
        self._check_inputs(has_body="requestBody" in operation)
        return operation

    def _check_inputs(self, has_body: bool) -> None:
        """Every date, time and whole number a request body or query takes is bounded (a warning
        otherwise: ``spectacular --fail-on-warn`` fails)."""
        candidates = list(self.get_override_parameters())
        if has_body:
            request = self.get_request_serializer()
            candidates += request.values() if isinstance(request, dict) else [request]
        inputs = [c for c in candidates if is_serializer(c)]
        for name in unbounded_fields(inputs):
            warn(f"{self.method} {self.path}: {name} takes a date, time or number without bounds")
        answers = self.get_response_serializers()
        answers = answers.values() if isinstance(answers, dict) else [answers]
        answers = [getattr(a, "response", a) for a in answers]  # OpenApiResponse
        for name in local_time_fields([a for a in answers if is_serializer(a)]):
            warn(
                f"{self.method} {self.path}: {name} answers a time not in UTC (use api_fields.DateTimeField)"
            )
