"""Page plumbing shared by every app's HTML views: access decorators, service calls, form status."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from retail import roles

T = TypeVar("T")

# --- access ---------------------------------------------------------------------------------------


def staff_required(view):
    """Logged in and acting for an active brand; otherwise to the login page or brand picker."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect(f"/login/?next={request.path}")
        if request.staff is None:
            return redirect("brand-picker")
        return view(request, *args, **kwargs)

    return wrapper


def role_required(allowed):
    """Acting for a brand (see staff_required) with a role that ``allowed(staff)`` accepts; 403 otherwise."""

    def decorator(view):
        @wraps(view)
        @staff_required
        def wrapper(request, *args, **kwargs):
            if not allowed(request.staff):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


manager_required = role_required(roles.can_manage_staff)  # brand admins and store managers
admin_required = role_required(roles.can_manage_stores)  # brand admins


# --- forms and services ---------------------------------------------------------------------------


def posted(request):
    """The POST data of a POST (even an empty one, which must fail validation), else None."""
    return request.POST if request.method == "POST" else None


def call_service(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Call a service in a savepoint: a ValidationError leaves nothing half-written behind."""
    with transaction.atomic():
        return fn(**kwargs)


def apply_service_errors(form, exc: ValidationError, rename: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError on the form, per field where the form has that field."""
    if hasattr(exc, "error_dict"):
        for field, errs in exc.error_dict.items():
            field = (rename or {}).get(field, field)
            target = field if field in form.fields else None
            for e in errs:
                form.add_error(target, e)
    else:
        form.add_error(None, exc)


def form_status(*forms) -> int:
    """400 when a submitted form carries errors, else 200."""
    return 400 if any(f is not None and f.is_bound and f.errors for f in forms) else 200


def safe_next(request, default: str) -> str:
    """The ``next`` the request asks for, if it stays on this site; else ``default``."""
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}, require_https=request.is_secure()):
        return nxt
    return default
