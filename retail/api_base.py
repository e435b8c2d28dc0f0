"""The API's shared machinery: the brand-scoped base view, errors, pagination."""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, generics, status
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from retail import idempotency
from retail.idempotency import CONFLICT_CODE
from retail.tenancy import TenancyError


class BrandSuspended(exceptions.PermissionDenied):
    default_detail = _("This brand is suspended.")
    default_code = "brand_suspended"


class NoBrandSelected(exceptions.PermissionDenied):
    default_detail = _("Choose the brand you act for first.")
    default_code = "no_brand"


class InsufficientScope(exceptions.PermissionDenied):
    default_detail = _("The access token does not carry the scope this operation needs.")
    default_code = "insufficient_scope"


class RateLimited(exceptions.Throttled):
    default_detail = _("Too many requests for this app.")
    default_code = "rate_limited"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


def _django_validation_fields(exc: DjangoValidationError) -> tuple[str, dict]:
    if hasattr(exc, "error_dict"):
        fields = {k: [str(m) for e in v for m in e.messages] for k, v in exc.error_dict.items()}
        non_field = fields.pop("__all__", [])
        message = non_field[0] if non_field else gettext("Invalid input.")
        return message, fields
    return " ".join(str(m) for m in exc.messages), {}


# Validation codes that mean "the request clashes with the state of the server".
CONFLICT_CODES = {CONFLICT_CODE}


def _single_code(exc: DjangoValidationError) -> str | None:
    """The one code all of the error's messages share, if they do (e.g. insufficient_points)."""
    errors = (
        [e for errs in exc.error_dict.values() for e in errs]
        if hasattr(exc, "error_dict")
        else exc.error_list
    )
    codes = {e.code for e in errors if e.code and e.code not in ("invalid", "required")}
    return codes.pop() if len(codes) == 1 and all(e.code for e in errors) else None


def _flatten(detail, path: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {dotted field path: [messages]}: ``lines.0.sku``. Errors of a
    whole nested object or list (its non_field_errors) belong to its own path; the top level's
    to the key ``""``."""
    out: dict[str, list[str]] = {}

    def add(key: str, messages: list[str]) -> None:
        out.setdefault(key, []).extend(messages)

    if isinstance(detail, dict):
        for key, value in detail.items():
            sub = ".".join(p for p in (path, str(key)) if p)
            if key in ("non_field_errors", "__all__"):
                sub = path
            for k, v in _flatten(value, sub).items():
                add(k, v)
    elif isinstance(detail, list):
        if all(not isinstance(x, dict | list) for x in detail):
            add(path, [str(x) for x in detail])
        else:
            for i, item in enumerate(detail):
                if item:  # the valid items of a list of objects have no errors ({})
                    sub = f"{path}.{i}" if path else str(i)
                    for k, v in _flatten(item, sub).items():
                        add(k, v)
    elif detail is not None:
        add(path, [str(detail)])
    return out


def exception_handler(exc, context):
    """Every API error as {"error": {"code", "message", "fields"}}."""
    if isinstance(exc, DjangoValidationError):
        message, fields = _django_validation_fields(exc)
        code = _single_code(exc) or "invalid"
        http = 409 if code in CONFLICT_CODES else 400
        return Response({"error": {"code": code, "message": message, "fields": fields}}, status=http)
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, TenancyError):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = exc.detail if isinstance(exc, exceptions.APIException) else None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(detail)
        non_field = fields.pop("", [])
        code, message = "invalid", (non_field[0] if non_field else gettext("Invalid input."))
    else:
        fields = {}
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        message = str(detail) if detail is not None else str(exc)
    response.data = {"error": {"code": code, "message": message, "fields": fields}}
    return response


HANDLED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def check_scopes(cls) -> None:
    """A view's ``scopes``, declared in its own class body: HTTP method → the partner scope it needs
    (retail.partners.scopes.SCOPES), one for every method the view answers, or ``{}`` for a view
    only staff sessions may call. TypeError otherwise."""
    from retail.partners.scopes import SCOPES

    scopes = cls.__dict__.get("scopes")
    if not isinstance(scopes, dict):
        raise TypeError(
            f"{cls.__name__} must declare scopes = {{method: scope}} in its class body "
            "({} when only staff sessions may call it)"
        )
    if not scopes:
        return
    answered = {m for m in HANDLED_METHODS if callable(getattr(cls, m.lower(), None))}
    if set(scopes) != answered:
        raise TypeError(f"{cls.__name__}.scopes names {sorted(scopes)}, the view answers {sorted(answered)}")
    unknown = sorted(set(scopes.values()) - set(SCOPES))
    if unknown:
        raise TypeError(f"{cls.__name__}.scopes uses unknown scopes {unknown} (retail/partners/scopes.py)")


class BrandAPIView(APIView):
    """Base of every brand API view: the brand comes from the credential, never the request body.

    ``initial`` resolves ``self.brand`` and ``self.staff`` before any handler runs; subclasses
    may not override ``initial`` or ``resolve_brand`` (checked when the class is defined).

    Every concrete view declares ``scopes`` in its own class body: for each HTTP method it
    answers, the scope a partner app's token needs (``{}``: staff sessions only). A shared base
    that is never routed says so with ``class _Base(BrandGenericView, abstract=True)``.

    A POST with an ``Idempotency-Key`` header is answered once per key (``dispatch``), unless the
    view reads the key itself (``own_idempotency``).
    """

    brand = None
    staff = None
    # HTTP method → partner scope (see check_scopes); declared by each concrete view.
    scopes: dict[str, str]
    # True when the view's POST reads the Idempotency-Key itself (idempotency.read_key) and keeps
    # its first answer in its own rows: the generic record then stands aside.
    own_idempotency = False

    def __init_subclass__(cls, abstract: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("initial", "resolve_brand", "dispatch", "check_partner_scope"):
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__} may not override {name}(): brand resolution is fixed")
        if not abstract:
            check_scopes(cls)

    def resolve_brand(self, request):
        """(brand, staff) of the credential: the staff session's chosen brand."""
        django_request = request._request
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if getattr(django_request, "staff", None) is not None:
            return django_request.brand, django_request.staff
        if getattr(django_request, "brand_suspended", False):
            raise BrandSuspended()
        raise NoBrandSelected()

    def initial(self, request, *args, **kwargs):
        # DRF's APIView.initial, with the brand resolved between authentication and permissions.
        self.format_kwarg = self.get_format_suffix(**kwargs)
        neg = self.perform_content_negotiation(request)
        request.accepted_renderer, request.accepted_media_type = neg
        version, scheme = self.determine_version(request, *args, **kwargs)
        request.version, request.versioning_scheme = version, scheme
        self.perform_authentication(request)
        self.brand, self.staff = self.resolve_brand(request)
        if getattr(request._request, "partner_app", None) is None:
            self.check_permissions(request)
            self.check_throttles(request)
            return
        # A partner call: counted against its app's rate limit first, then its token must carry
        # the operation's scope (a view without one for the method is closed to partners).
        self.check_throttles(request)
        self.check_partner_scope(request)
        self.check_permissions(request)

    def check_partner_scope(self, request) -> None:
        from retail.partners.auth import granted_scopes

        scopes = getattr(type(self), "scopes", None)
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        needed = scopes.get(method) if isinstance(scopes, dict) else None
        if not needed or needed not in granted_scopes(request._request):
            raise InsufficientScope()

    def throttled(self, request, wait):
        if getattr(request._request, "partner_app", None) is not None:
            raise RateLimited(wait)
        super().throttled(request, wait)

    def dispatch(self, request, *args, **kwargs):
        # DRF's APIView.dispatch, with a POST that carries an Idempotency-Key answered once per key.
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers

        try:
            self.initial(request, *args, **kwargs)
            if request.method.lower() in self.http_method_names:
                handler = getattr(self, request.method.lower(), self.http_method_not_allowed)
            else:
                handler = self.http_method_not_allowed
            if request.method == "POST" and not self.own_idempotency:
                response = self._answer_once(handler, request, *args, **kwargs)
            else:
                response = handler(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)

        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def _answer_once(self, handler, request, *args, **kwargs):
        """The handler's answer, kept under the request's Idempotency-Key (when it has one) for a
        retry: the same request again gets the first answer, another request with the key a 409."""
        key = idempotency.header_key(request)
        if key is None:
            return handler(request, *args, **kwargs)
        path = request.get_full_path()
        record = idempotency.record_claim(
            brand=self.brand,
            principal=idempotency.principal(self.staff),
            key=key,
            method=request.method,
            path=path,
            request_hash=idempotency.body_fingerprint(request.method, path, request.data),
        )
        if record.replayed:
            return Response(
                record.response_body, status=record.status_code, headers=dict(idempotency.REPLAYED_HEADERS)
            )
        try:
            response = handler(request, *args, **kwargs)
        except Exception as exc:
            try:
                response = self.handle_exception(exc)  # an API error (4xx) is kept
            except Exception:
                idempotency.record_answer(record, 500, None)  # a server error is not: a retry runs
                raise
        keep = isinstance(response, Response) and not response.streaming
        body = json.loads(json.dumps(response.data, cls=JSONEncoder)) if keep else None
        idempotency.record_answer(record, response.status_code, body, keep=keep)
        return response


class BrandGenericView(BrandAPIView, generics.GenericAPIView, abstract=True):
    # A brand API view with DRF's generic helpers (serializer, pagination). Nothing filters it
    # unless it is a retail.filters.FilteredListView. No docstring: the schema shows each view's own.
    filter_backends: list = []
