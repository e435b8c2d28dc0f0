"""Request middleware: body size limit and the tenant scope of every request."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse

from retail import selectors
from retail.tenancy import request_scope, rls_bypass

SESSION_BRAND_KEY = "brand_id"


def error_response(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    """The API's one error shape."""
    return JsonResponse(
        {"error": {"code": code, "message": str(message), "fields": fields or {}}}, status=status
    )


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

    def __call__(self, request):
        request.brand = None
        request.staff = None
        request.brand_suspended = False
        user = request.user
        if not user.is_authenticated:
            with transaction.atomic():
                return self.get_response(request)
        if request.path.startswith(self.admin_prefix) and user.is_active and user.is_staff:
            with rls_bypass(
                reason=f"django admin {request.method} {request.path}"[:200],
                actor=user,
                ip=request.META.get("REMOTE_ADDR"),
            ):
                return self.get_response(request)
        with request_scope(user_id=user.pk) as enter_brand:
            brand_id = request.session.get(SESSION_BRAND_KEY)
            staff = None
            if brand_id:
                staff = selectors.membership_get(user=user, brand_id=brand_id, user_scoped=True)
                if staff is None:
                    request.brand_suspended = selectors.brand_is_suspended(brand_id=brand_id)
            if staff is not None:
                request.brand = staff.brand
                request.staff = staff
                enter_brand(staff.brand_id)
            return self.get_response(request)
