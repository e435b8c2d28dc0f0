"""The developer centre's webhook pages: an app's endpoints (create with the signing secret shown
once, edit the events, enable or disable, rotate the secret, send a test ping, delete) and the
delivery log with each attempt's request and answer, and a replay button.

Brand admins only; another brand's endpoint or delivery answers 404. retail.webhooks services
write, its selectors read."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from retail.developers.common import (
    app_or_404,
    delivery_or_404,
    endpoint_or_404,
    keyset_page,
    once_per_form,
    secret_page,
)
from retail.developers.forms import ConfirmForm, DeliveryFilterForm, EndpointForm, filter_values
from retail.events import Actor
from retail.idempotency import IdempotencyConflict
from retail.pages import admin_required, apply_service_errors, call_service, form_status, posted

RECENT_DELIVERIES = 10


def _conflict(form) -> None:
    form.add_error(None, _("This form was already sent with other values. Check it and send it again."))
    form.renew_key()


def _grace_end(endpoint):
    end = getattr(endpoint, "previous_secret_expires_at", None)
    return end if end and end > timezone.now() else None


def _headers_text(headers) -> str:
    """Headers one per line (``Name: value``), as they were sent or received."""
    if isinstance(headers, dict):
        return "\n".join(f"{k}: {v}" for k, v in headers.items())
    if isinstance(headers, list):
        return "\n".join(f"{k}: {v}" for k, v in headers)
    return str(headers or "")


def _pretty(body: str) -> str:
    """A JSON body indented for reading; anything else (a cut body, text) as it is."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return body


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# --- endpoints ------------------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def endpoint_new(request, app_id: int):
    """A new endpoint of an app; a valid POST answers with the signing secret, once."""
    from retail.webhooks import services

    app = app_or_404(request, app_id)
    if app.status == "revoked":
        messages.info(request, _("A revoked app cannot have new webhook endpoints."))
        return redirect("dev-app", app.pk)
    form = EndpointForm(posted(request), creating=True)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        kwargs = {"url": d["url"], "event_types": sorted(d["event_types"]), "description": d["description"]}
        made: dict = {}

        def write() -> dict:
            made["endpoint"], made["secret"] = services.endpoint_create(
                brand=request.brand, actor=Actor.from_request(request), app=app, **kwargs
            )
            return {"endpoint_id": made["endpoint"].pk}

        try:
            result, replayed = once_per_form(
                request, d["key"], {"op": "endpoint_create", "app": app.pk, **kwargs}, write
            )
        except IdempotencyConflict:
            _conflict(form)
        except ValidationError as exc:
            apply_service_errors(form, exc, rename=form.error_rename())
        else:
            if replayed:
                messages.info(
                    request,
                    _(
                        "This endpoint was already created by this form. Its signing secret was shown "
                        "once and is not shown again."
                    ),
                )
                return redirect("dev-endpoint", result["endpoint_id"])
            return secret_page(
                request,
                {"kind": "endpoint", "app": app, "endpoint": made["endpoint"], "secret": made["secret"]},
            )
    ctx = {"nav": "developers", "sub": "apps", "app": app, "endpoint": None, "form": form}
    return render(request, "dashboard/developers/endpoint_form.html", ctx, status=form_status(form))


@admin_required
@require_http_methods(["GET", "POST"])
def endpoint_detail(request, endpoint_id: int):
    """An endpoint: its settings form (url, description, events), its recent deliveries and actions."""
    from retail.webhooks import selectors, services

    endpoint = endpoint_or_404(request, endpoint_id)
    form = EndpointForm(posted(request), creating=False, initial=EndpointForm.initial_from(endpoint))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            call_service(
                services.endpoint_update,
                endpoint=endpoint,
                actor=Actor.from_request(request),
                url=d["url"],
                event_types=sorted(d["event_types"]),
                description=d["description"],
            )
        except ValidationError as exc:
            apply_service_errors(form, exc, rename=form.error_rename())
        else:
            messages.success(request, _("The endpoint is saved."))
            return redirect("dev-endpoint", endpoint.pk)
    deliveries = selectors.delivery_list(request.brand, endpoint=endpoint)
    ctx = {
        "nav": "developers",
        "sub": "apps",
        "app": endpoint.app,
        "endpoint": endpoint,
        "form": form,
        "grace_end": _grace_end(endpoint),
        "grace_hours": getattr(settings, "WEBHOOK_SECRET_GRACE_HOURS", 24),
        "deliveries": list(deliveries.order_by("-pk")[:RECENT_DELIVERIES]),
        "rotate_form": ConfirmForm(),
        "test_form": ConfirmForm(),
    }
    return render(request, "dashboard/developers/endpoint.html", ctx, status=form_status(form))


@admin_required
@require_POST
def endpoint_enable(request, endpoint_id: int):
    """Turn the endpoint on (``enabled=1``) or off (``enabled=0``): a repeated click changes nothing."""
    from retail.webhooks import services

    endpoint = endpoint_or_404(request, endpoint_id)
    enabled = request.POST.get("enabled") == "1"
    try:
        call_service(
            services.endpoint_update, endpoint=endpoint, actor=Actor.from_request(request), enabled=enabled
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(
            request, _("The endpoint is enabled.") if enabled else _("The endpoint is disabled.")
        )
    return redirect("dev-endpoint", endpoint.pk)


@admin_required
@require_POST
def endpoint_rotate(request, endpoint_id: int):
    from retail.webhooks import services

    endpoint = endpoint_or_404(request, endpoint_id)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The secret was not rotated. Please try again."))
        return redirect("dev-endpoint", endpoint.pk)
    made: dict = {}

    def write() -> dict:
        made["secret"] = services.endpoint_rotate_secret(endpoint=endpoint, actor=Actor.from_request(request))
        return {"endpoint_id": endpoint.pk}

    try:
        _result, replayed = once_per_form(
            request, form.cleaned_data["key"], {"op": "endpoint_rotate", "endpoint": endpoint.pk}, write
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("dev-endpoint", endpoint.pk)
    if replayed:
        messages.info(
            request, _("The secret was already rotated by this form. The new secret was shown once.")
        )
        return redirect("dev-endpoint", endpoint.pk)
    endpoint.refresh_from_db()
    return secret_page(
        request,
        {
            "kind": "endpoint_rotate",
            "app": endpoint.app,
            "endpoint": endpoint,
            "secret": made["secret"],
            "grace_end": _grace_end(endpoint),
        },
    )


@admin_required
@require_POST
def endpoint_test(request, endpoint_id: int):
    """Send a ``ping`` event to the endpoint now; then its delivery page."""
    from retail.webhooks import services

    endpoint = endpoint_or_404(request, endpoint_id)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return redirect("dev-endpoint", endpoint.pk)

    def write() -> dict:
        return {
            "delivery_id": services.send_test_event(endpoint=endpoint, actor=Actor.from_request(request)).pk
        }

    try:
        result, replayed = once_per_form(
            request, form.cleaned_data["key"], {"op": "endpoint_test", "endpoint": endpoint.pk}, write
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("dev-endpoint", endpoint.pk)
    if not replayed:
        messages.success(request, _("A test event is on its way. Reload this page to see the answer."))
    return redirect("dev-delivery", result["delivery_id"])


@admin_required
@require_POST
def endpoint_delete(request, endpoint_id: int):
    from retail.webhooks import services

    endpoint = endpoint_or_404(request, endpoint_id)
    app_id = endpoint.app_id
    try:
        call_service(services.endpoint_delete, endpoint=endpoint, actor=Actor.from_request(request))
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("dev-endpoint", endpoint.pk)
    messages.success(request, _("The endpoint is deleted."))
    return redirect("dev-app", app_id)


# --- deliveries -----------------------------------------------------------------------------------


@admin_required
@require_GET
def delivery_list(request):
    from retail.webhooks import selectors

    endpoints = list(selectors.endpoint_list(request.brand))
    form = DeliveryFilterForm(request.GET or None, endpoints=endpoints)
    values = filter_values(form)
    by_id = {e.pk: e for e in endpoints}
    qs = selectors.delivery_list(
        request.brand, endpoint=by_id.get(values.get("endpoint")), status=values.get("status")
    )
    ctx = {
        "nav": "developers",
        "sub": "deliveries",
        "form": form,
        "filtered": bool(values),
        **keyset_page(request, qs),
    }
    return render(request, "dashboard/developers/deliveries.html", ctx)


@admin_required
@require_GET
def delivery_detail(request, delivery_id: int):
    from retail.webhooks import selectors

    delivery = delivery_or_404(request, delivery_id)
    attempts = list(selectors.attempt_list(delivery))[::-1]  # the latest first
    for a in attempts:
        a.request_headers_text = _headers_text(a.request_headers)
        a.request_body = _pretty(a.request_body)
        a.response_body = _pretty(a.response_body)
        a.response_headers_text = _headers_text(a.response_headers)
    event = delivery.event
    ctx = {
        "nav": "developers",
        "sub": "deliveries",
        "delivery": delivery,
        "event": event,
        "event_json": json.dumps(event.data, indent=2, ensure_ascii=False),
        "endpoint": delivery.endpoint,
        "attempts": attempts,
        "replay_form": ConfirmForm(),
    }
    return render(request, "dashboard/developers/delivery.html", ctx)


@admin_required
@require_POST
def delivery_replay(request, delivery_id: int):
    """Send the delivery's event again, as a new (manual) delivery; then that delivery's page."""
    from retail.webhooks import services

    delivery = delivery_or_404(request, delivery_id)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return redirect("dev-delivery", delivery.pk)

    def write() -> dict:
        return {
            "delivery_id": services.delivery_replay(delivery=delivery, actor=Actor.from_request(request)).pk
        }

    try:
        result, replayed = once_per_form(
            request, form.cleaned_data["key"], {"op": "delivery_replay", "delivery": delivery.pk}, write
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("dev-delivery", delivery.pk)
    if not replayed:
        messages.success(request, _("The event is sent again. Reload this page to see the answer."))
    return redirect("dev-delivery", result["delivery_id"])
