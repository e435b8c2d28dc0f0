"""The developer centre's app pages: the partner apps (list, create with the secret shown once,
detail, settings, secret rotation, revocation), the partner activity log and the developer docs.

Brand admins only (``admin_required``: others get 403, or the login page); an app of another brand
answers 404. Views are thin: forms validate, retail.partners services write, selectors read."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from retail.developers.common import app_or_404, keyset_page, once_per_form, secret_page
from retail.developers.forms import (
    ActivityFilterForm,
    AppForm,
    ConfirmForm,
    event_catalogue,
    filter_values,
    scope_groups,
)
from retail.events import Actor
from retail.idempotency import IdempotencyConflict
from retail.pages import admin_required, apply_service_errors, call_service, form_status, posted

DOCS_FILE = Path(settings.BASE_DIR) / "docs" / "partners.md"
RECENT_CALLS = 10


def _conflict(form) -> None:
    form.add_error(None, _("This form was already sent with other values. Check it and send it again."))
    form.renew_key()


def _endpoints(request, app):
    from retail.webhooks import selectors

    return list(selectors.endpoint_list(request.brand, app=app))


# --- apps -----------------------------------------------------------------------------------------


@admin_required
@require_GET
def app_list(request):
    from retail.partners import selectors

    apps = list(selectors.app_list(request.brand))
    return render(
        request, "dashboard/developers/apps.html", {"nav": "developers", "sub": "apps", "apps": apps}
    )


@admin_required
@require_http_methods(["GET", "POST"])
def app_new(request):
    """The create form; a valid POST answers with the page that shows the secret, once."""
    from retail.partners import services

    form = AppForm(posted(request), creating=True)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        kwargs = {
            "name": d["name"],
            "scopes": sorted(d["scopes"]),
            "ip_allowlist": d["ip_allowlist"],
            "rate_limit_per_minute": d["rate_limit_per_minute"],
            "test_mode": d["test_mode"],
        }
        made: dict = {}

        def write() -> dict:
            made["app"], made["secret"] = services.app_create(
                brand=request.brand, actor=Actor.from_request(request), **kwargs
            )
            return {"app_id": made["app"].pk}

        try:
            result, replayed = once_per_form(request, d["key"], {"op": "app_create", **kwargs}, write)
        except IdempotencyConflict:
            _conflict(form)
        except ValidationError as exc:
            apply_service_errors(form, exc, rename=form.error_rename())
        else:
            if replayed:
                messages.info(
                    request,
                    _(
                        "This app was already created by this form. Its secret was shown once "
                        "and is not shown again."
                    ),
                )
                return redirect("dev-app", result["app_id"])
            app = made["app"]
            return secret_page(
                request,
                {
                    "kind": "app",
                    "app": app,
                    "client_id": app.application.client_id,
                    "secret": made["secret"],
                    "token_url": request.build_absolute_uri("/api/v1/oauth/token/"),
                },
            )
    ctx = {"nav": "developers", "sub": "apps", "form": form, "app": None, "groups": form.scope_groups()}
    return render(request, "dashboard/developers/app_form.html", ctx, status=form_status(form))


def _grace_end(app):
    end = getattr(app, "previous_secret_expires_at", None)
    return end if end and end > timezone.now() else None


def _usage(request, app) -> dict:
    """Calls and errors per day of the last 7 days, with bar heights relative to the busiest day."""
    from retail.partners import selectors

    days = selectors.app_usage(request.brand, app, days=7)
    peak = max([d["calls"] for d in days] + [1])
    rows = [{**d, "pct": d["calls"] * 100 / peak, "error_pct": d["errors"] * 100 / peak} for d in days]
    return {"days": rows, "calls": sum(d["calls"] for d in days), "errors": sum(d["errors"] for d in days)}


@admin_required
@require_GET
def app_detail(request, app_id: int):
    from retail.partners import selectors

    app = app_or_404(request, app_id)
    ctx = {
        "nav": "developers",
        "sub": "apps",
        "app": app,
        "revoked": app.status == "revoked",
        "groups": [g for g in scope_groups(app.scopes) if any(s["checked"] for s in g["scopes"])],
        "grace_end": _grace_end(app),
        "usage": _usage(request, app),
        "endpoints": _endpoints(request, app),
        "calls": list(selectors.call_list(request.brand, app=app).order_by("-pk")[:RECENT_CALLS]),
        "rotate_form": ConfirmForm(),
        "grace_hours": getattr(settings, "PARTNER_SECRET_GRACE_HOURS", 24),
    }
    return render(request, "dashboard/developers/app.html", ctx)


@admin_required
@require_http_methods(["GET", "POST"])
def app_edit(request, app_id: int):
    from retail.partners import services

    app = app_or_404(request, app_id)
    if app.status == "revoked":
        messages.info(request, _("A revoked app cannot be changed."))
        return redirect("dev-app", app.pk)
    form = AppForm(posted(request), creating=False, initial=AppForm.initial_from(app))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            call_service(
                services.app_update,
                app=app,
                actor=Actor.from_request(request),
                name=d["name"],
                scopes=sorted(d["scopes"]),
                ip_allowlist=d["ip_allowlist"],
                rate_limit_per_minute=d["rate_limit_per_minute"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc, rename=form.error_rename())
        else:
            messages.success(request, _("The app's settings are saved."))
            return redirect("dev-app", app.pk)
    ctx = {"nav": "developers", "sub": "apps", "form": form, "app": app, "groups": form.scope_groups()}
    return render(request, "dashboard/developers/app_form.html", ctx, status=form_status(form))


@admin_required
@require_POST
def app_rotate(request, app_id: int):
    """A new secret, shown once; the previous one keeps working for the grace period."""
    from retail.partners import services

    app = app_or_404(request, app_id)
    form = ConfirmForm(request.POST)
    if app.status == "revoked" or not form.is_valid():
        messages.error(request, _("The secret was not rotated. Please try again."))
        return redirect("dev-app", app.pk)
    made: dict = {}

    def write() -> dict:
        made["secret"] = services.app_rotate_secret(app=app, actor=Actor.from_request(request))
        return {"app_id": app.pk}

    try:
        _result, replayed = once_per_form(
            request, form.cleaned_data["key"], {"op": "app_rotate", "app": app.pk}, write
        )
    except (IdempotencyConflict, ValidationError) as exc:
        messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("dev-app", app.pk)
    if replayed:
        messages.info(
            request, _("The secret was already rotated by this form. The new secret was shown once.")
        )
        return redirect("dev-app", app.pk)
    app.refresh_from_db()
    return secret_page(
        request,
        {
            "kind": "app_rotate",
            "app": app,
            "client_id": app.application.client_id,
            "secret": made["secret"],
            "grace_end": _grace_end(app),
            "token_url": request.build_absolute_uri("/api/v1/oauth/token/"),
        },
    )


def _revoke(*, app, actor) -> None:
    """Revoke the app and disable its webhook endpoints, in one savepoint."""
    from retail.partners import services
    from retail.webhooks.services import app_endpoints_disable

    services.app_revoke(app=app, actor=actor)
    app_endpoints_disable(app=app, actor=actor)


@admin_required
@require_POST
def app_revoke(request, app_id: int):
    app = app_or_404(request, app_id)
    if app.status != "revoked":
        try:
            call_service(_revoke, app=app, actor=Actor.from_request(request))
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            return redirect("dev-app", app.pk)
        messages.success(
            request,
            _("%(name)s is revoked: its tokens no longer work and its webhook endpoints are disabled.")
            % {"name": app.name},
        )
    return redirect("dev-app", app.pk)


# --- partner activity -----------------------------------------------------------------------------


@admin_required
@require_GET
def activity(request):
    from retail.partners import selectors

    apps = list(selectors.app_list(request.brand))
    form = ActivityFilterForm(request.GET or None, apps=apps)
    values = filter_values(form)
    by_id = {a.pk: a for a in apps}
    qs = selectors.call_list(
        request.brand,
        app=by_id.get(values.get("app")),
        status=values.get("status"),
        method=values.get("method"),
    )
    ctx = {
        "nav": "developers",
        "sub": "activity",
        "form": form,
        "filtered": bool(values),
        "sample_pct": round(getattr(settings, "PARTNER_READ_SAMPLE_RATE", 0.1) * 100),
        "retention_days": getattr(settings, "PARTNER_CALL_RETENTION_DAYS", 90),
        **keyset_page(request, qs),
    }
    return render(request, "dashboard/developers/activity.html", ctx)


# --- docs -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _docs_html(mtime_ns: int) -> str:
    import markdown

    text = DOCS_FILE.read_text(encoding="utf-8")
    return markdown.markdown(
        text,
        extensions=["fenced_code", "tables", "toc", "sane_lists"],
        extension_configs={"toc": {"permalink": False}},
        output_format="html",
    )


def docs_html() -> str:
    """docs/partners.md as HTML (the file is ours; nothing in it comes from users)."""
    try:
        mtime = DOCS_FILE.stat().st_mtime_ns
    except FileNotFoundError:
        return ""
    return _docs_html(mtime)


def _event_rows() -> list[dict]:
    from retail.webhooks.catalogue import PING_EVENT

    rows = []
    for name, e in [*event_catalogue().items(), (PING_EVENT.name, PING_EVENT)]:
        rows.append(
            {
                "name": name,
                "description": getattr(e, "description", ""),
                "schema": json.dumps(
                    getattr(e, "schema", {}) or {}, indent=2, ensure_ascii=False, sort_keys=False
                ),
            }
        )
    return rows


@admin_required
@require_GET
def docs(request):
    ctx = {
        "nav": "developers",
        "sub": "docs",
        "docs_html": mark_safe(docs_html()),  # noqa: S308 -- our own file, rendered from markdown
        "groups": scope_groups(),
        "events": _event_rows(),
        "token_url": request.build_absolute_uri("/api/v1/oauth/token/"),
    }
    return render(request, "dashboard/developers/docs.html", ctx)
