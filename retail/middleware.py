"""Request middleware: body size limit, clean input, language and the tenant scope of every request."""

from __future__ import annotations

import logging
from contextlib import nullcontext

from django.conf import settings
from django.db import transaction
from django.http import Http404, JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import trans_real

from retail import selectors
from retail.models import Staff
from retail.tenancy import TenancyError, request_scope, rls_bypass
from retail.text import clean_querydict

logger = logging.getLogger(__name__)

SESSION_BRAND_KEY = "brand_id"


def error_response(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    """The API's one error shape."""
    return JsonResponse(
        {"error": {"code": code, "message": str(message), "fields": fields or {}}}, status=status
    )


def _accepted_language(request) -> str | None:
    """The first language of the Accept-Language header that we speak (``en-US`` → ``en``)."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    for code, _q in trans_real.parse_accept_lang_header(header[:500]):
        if code == "*":
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return None


class LanguageMiddleware(LocaleMiddleware):
    """Pages: Simplified Chinese unless the person chose another language (the language cookie
    set by the switcher); the browser's Accept-Language is not consulted. The API (``/api/``)
    follows Accept-Language first, then the cookie, then Simplified Chinese."""

    def process_request(self, request):
        lang = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if request.path_info.startswith("/api/"):
            lang = _accepted_language(request) or lang
        if lang not in dict(settings.LANGUAGES):
            lang = settings.LANGUAGE_CODE
        translation.activate(lang)
        request.LANGUAGE_CODE = translation.get_language()


def bad_request(request, message: str, *, status: int = 400, code: str = "bad_request"):
    """A 4xx in the API's error shape under /api/, a readable page (request's language) elsewhere."""
    if request.path_info.startswith("/api/"):
        return error_response(status, code, message)
    return render(request, "errors/400.html", {"message": message, "status": status}, status=status)


class CleanInputMiddleware:
    """Input from the request line and HTML forms, fit for the database and for other people.

    A NUL byte anywhere in the path or query string is refused with a 400 (PostgreSQL cannot
    store it in text, so it would otherwise fail deep inside a query). Query and form values
    lose control and bidi characters (retail.text); password fields are left exactly as typed.
    API bodies are cleaned by the API's parsers (retail.parsers) instead.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path_info or "%00" in query or "\x00" in query:
            return bad_request(request, _("The address contains characters that are not allowed."))
        request.GET = clean_querydict(request.GET)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # CSRF-exempt views (the API, payment notifications) read their bodies themselves: the
        # API through its cleaning parsers, notifications as signed raw bytes.
        if (
            request.method == "POST"
            and not getattr(view_func, "csrf_exempt", False)
            and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            request.POST = clean_querydict(request.POST)
        return None


class BodySizeLimitMiddleware:
    """Refuse bodies over REQUEST_BODY_MAX_BYTES before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "bad_request", "Invalid Content-Length.")
        if length > settings.REQUEST_BODY_MAX_BYTES:
            return error_response(413, "payload_too_large", "The request body is too large.")
        return self.get_response(request)


def brandless(view):
    """Mark a view that must not run in the session's brand scope (it picks its own brand,
    e.g. a public invitation link of another brand opened by a logged-in promoter)."""
    view.brandless = True
    return view


def own_transactions(view):
    """Mark a view that must not run inside one request-wide transaction: it asks an outside
    provider (a payment) between its services' transactions, so no row stays locked, nor any
    write uncommitted, while the provider answers. Every database access of such a view is in a
    service's or its own ``brand_scope``. Only for views without a staff brand (``brandless``)
    or anonymous ones: a staff session's brand lives in the request's transaction."""
    view.own_transactions = True
    return view


def _view_flag(request, flag: str) -> bool:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return getattr(match.func, flag, False)


def _is_brandless(request) -> bool:
    return _view_flag(request, "brandless")


def _partner_route_open(match) -> bool:
    """Whether a partner token may call the route at all: brand API views only (each checks its
    operation's scope); not the schema, docs or other plain views. An unknown path goes on to
    its 404."""
    from retail.api_base import BrandAPIView

    if match is None:
        return True
    view_class = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, BrandAPIView)


def _kept(response):
    """The request's answer; a server error (an exception Django turned into a 500 inside this
    middleware's transaction) rolls the whole request back instead of committing what it wrote."""
    if response.status_code >= 500:
        transaction.set_rollback(True)
    return response


def _in_one_transaction(request, get_response):
    if _view_flag(request, "own_transactions"):
        return get_response(request)
    with transaction.atomic():
        return _kept(get_response(request))


class TenantMiddleware:
    """Run each request in one transaction, inside the brand scope of the staff session.

    The brand comes from the session (chosen on the brand picker) and counts only while the
    user's staff record there and the brand itself are active. ``request.brand`` and
    ``request.staff`` are None otherwise; ``request.brand_suspended`` tells why.
    Platform operators in Django admin get an audited RLS bypass.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = "/admin/"

    def process_exception(self, request, exception):
        """Touching another brand's rows is answered like a missing object, and logged."""
        if isinstance(exception, TenancyError):
            logger.error("tenancy violation on %s %s: %s", request.method, request.path, exception)
            raise Http404 from exception
        return None

    def __call__(self, request):
        request.brand = None
        request.staff = None
        request.brand_suspended = False
        request.partner_app = None
        request.partner_token = None
        if request.path_info.startswith("/api/"):
            from retail.partners.auth import bearer_token

            raw = bearer_token(request)
            if raw is not None:
                try:
                    match = resolve(request.path_info)
                except Resolver404:
                    match = None
                if match is None or not getattr(match.func, "brandless", False):
                    return self._partner_call(request, raw, match)
        user = request.user
        if not user.is_authenticated or _is_brandless(request):
            return _in_one_transaction(request, self.get_response)
        if request.path.startswith(self.admin_prefix) and user.is_active and user.is_staff:
            with rls_bypass(
                reason=f"django admin {request.method} {request.path}"[:200],
                actor=user,
                ip=request.META.get("REMOTE_ADDR"),
            ):
                return self.get_response(request)
        brand_id = request.session.get(SESSION_BRAND_KEY)
        if not isinstance(brand_id, int):
            brand_id = None
        with request_scope(user_id=user.pk, brand_hint=brand_id) as scope:
            staff = None
            if brand_id:
                staff = selectors.membership_get(user=user, brand_id=brand_id, user_scoped=True)
                if staff is None:
                    scope.clear_brand()
                    request.brand_suspended = selectors.brand_is_suspended(brand_id=brand_id)
            if staff is not None:
                request.brand = staff.brand
                request.staff = staff
                scope.enter_brand(staff.brand_id)
            return _kept(self.get_response(request))

    def _partner_call(self, request, raw: str, match):
        """A request with a partner app's Bearer token: the brand, staff (the app's service staff)
        and user come from the token only; no session is consulted. The token's application is
        named in the transaction so its partner app can be read before the brand is known."""
        from retail import payments
        from retail.partners import auth
        from retail.partners.selectors import app_for_application

        token = auth.access_token_for(raw)
        if token is None:
            return auth.invalid_token()
        with request_scope(user_id=None, application_id=token.application_id) as scope:
            app = app_for_application(token.application_id, in_setting=True)
            if app is None or not app.is_active:
                return auth.invalid_token()
            request.partner_app = app
            request.partner_token = token
            if not auth.ip_allowed(app, request.META.get("REMOTE_ADDR")):
                return error_response(
                    403, "ip_not_allowed", _("This address may not call the API for this app.")
                )
            if not _partner_route_open(match):
                return error_response(
                    403, "insufficient_scope", _("This operation is not open to partner apps.")
                )
            if not app.brand.is_active:
                return error_response(403, "brand_suspended", _("This brand is suspended."))
            scope.enter_brand(app.brand_id)
            staff = Staff._base_manager.select_related("user").get(pk=app.service_staff_id)
            staff.brand = app.brand
            request.brand = app.brand
            request.staff = staff
            request.user = staff.user
            request._cached_user = staff.user
            with payments.simulated_providers() if app.test_mode else nullcontext():
                return _kept(self.get_response(request))
