"""Devices in the brand console: the list per store with their live state, adding a device and
pairing it (the code shown once, with a QR), and a device's page (settings, commands, events).

Brand admins see every store's devices, store managers their own stores' (devices.selectors); a
device of another brand or store answers 404, a guide 403. Views are thin: forms validate,
devices.services write (and audit), selectors read."""

from __future__ import annotations

from datetime import timedelta

import segno
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devices import selectors, services
from devices.forms import (
    CommandForm,
    ConfirmForm,
    DeviceCreateForm,
    DeviceEditForm,
    DeviceFilterForm,
    EventFilterForm,
    OpenDoorForm,
    SettingsForm,
    window_formset,
    windows_from,
)
from devices.models import Device, DeviceEvent
from retail import selectors as retail_selectors
from retail.developers.common import once_per_form
from retail.events import Actor
from retail.idempotency import IdempotencyConflict
from retail.models import Staff
from retail.pages import apply_service_errors, call_service, form_status, manager_required, posted

PAGE_SIZE = 50
EVENTS_PAGE = 20
COMMANDS_SHOWN = 10
PAIR_PATH = "/api/v1/devices/pair/"
KIOSK_PATH = "/kiosk/"


# --- words --------------------------------------------------------------------------------------


def ago(when, now) -> str:
    """ "3 minutes ago", "just now", or "never" for a device never seen."""
    if when is None:
        return _("Never connected")
    if now - when < timedelta(minutes=1):
        return _("Just now")
    return _("%(time)s ago") % {"time": timesince(when, now, depth=1)}


def skew_words(ms) -> str:
    """The device's clock against the server's, in words."""
    if ms is None:
        return _("Not measured yet")
    seconds = abs(ms) / 1000
    if seconds < 0.5:
        return _("The device clock is right")
    text = f"{seconds:.1f}"
    if ms > 0:
        return _("The device clock is %(seconds)s s fast") % {"seconds": text}
    return _("The device clock is %(seconds)s s slow") % {"seconds": text}


def method_words(method) -> str:
    labels = {
        "face": pgettext("how a device was used", "Face"),
        "pin": pgettext("how a device was used", "PIN"),
        "card": pgettext("how a device was used", "Card"),
        "button": pgettext("how a device was used", "Exit button"),
        "remote": pgettext("how a device was used", "Opened from the console"),
        "key": pgettext("how a device was used", "Key"),
    }
    return str(labels.get(method, pgettext("how a device was used", "Another way")))


def error_text(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _conflict(form) -> None:
    form.add_error(None, _("This form was already sent with other values. Check it and send it again."))
    form.renew_key()


# --- lookups ------------------------------------------------------------------------------------


def _stores(request) -> list:
    return list(retail_selectors.store_list(brand=request.brand, viewer=request.staff))


def _device(request, device_id: int) -> Device:
    """The viewer's device (store loaded), or 404: another brand's, another store's, a missing id."""
    return selectors.device_get(brand=request.brand, viewer=request.staff, device_id=device_id)


def _seen(devices, now) -> None:
    for d in devices:
        d.seen_ago = ago(d.last_seen_at, now)


# --- the list -----------------------------------------------------------------------------------


@manager_required
@require_GET
def device_list(request):
    """Devices of the viewer's stores with their state, refreshed every 10 s (the table fragment
    answers htmx requests)."""
    stores = _stores(request)
    form = DeviceFilterForm(request.GET or None, stores=stores)
    values = form.values()
    qs = selectors.device_list(brand=request.brand, viewer=request.staff, **values)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    _seen(rows, timezone.now())
    ctx = {
        "nav": "devices",
        "form": form,
        "filtered": bool(values),
        "stores": stores,
        "page": page,
        "rows": rows,
        "counts": selectors.device_counts(brand=request.brand, viewer=request.staff),
        "many_stores": len(stores) > 1,
    }
    template = "devices/dashboard/_results.html" if request.htmx else "devices/dashboard/list.html"
    return render(request, template, ctx)


# --- adding and pairing -------------------------------------------------------------------------


def qr_svg(data: str, label: str = "") -> str:
    """An inline, scalable SVG QR code of ``data`` (error correction M, quiet zone kept)."""
    svg = segno.make(data, error="m").svg_inline(
        scale=4, omitsize=True, svgclass="qr", lineclass="qr-line", title=label or None
    )
    return mark_safe(svg)  # noqa: S308 - segno's own markup; the data is encoded as modules, not text


def pairing_page(request, device: Device, code: str, *, kind: str, expires_at):
    """The page that shows a pairing code once: in the answer to the POST that issued it, never
    stored, never cached."""
    kiosk_url = request.build_absolute_uri(KIOSK_PATH) + f"?code={code}"
    ctx = {
        "nav": "devices",
        "kind": kind,
        "device": device,
        "code": services.format_code(code),
        "qr": qr_svg(kiosk_url, _("Pairing code")),
        "kiosk_url": kiosk_url,
        "kiosk_home": request.build_absolute_uri(KIOSK_PATH),
        "pair_url": request.build_absolute_uri(PAIR_PATH),
        "expires_at": expires_at,
        "expires_ms": int(expires_at.timestamp() * 1000),
        "minutes": settings.DEVICE_PAIRING_CODE_SECONDS // 60,
        "tz": device.store.timezone,
    }
    response = render(request, "devices/dashboard/pairing.html", ctx)
    add_never_cache_headers(response)
    return response


def _expiry():
    # Taken just before the code is drawn: the code lives at least this long.
    return timezone.now() + timedelta(seconds=settings.DEVICE_PAIRING_CODE_SECONDS)


@manager_required
@require_http_methods(["GET", "POST"])
def device_new(request):
    """The form; a valid POST answers with the pairing page (the code shown once)."""
    stores = _stores(request)
    initial = {}
    if request.method == "GET" and request.GET.get("store", "").isdigit():
        initial["store"] = int(request.GET["store"])
    form = DeviceCreateForm(posted(request), stores=stores, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        store = form.stores[d["store"]]
        data = {"name": d["name"], "location": d["location"], "kind": d["kind"]}
        made: dict = {}

        def write() -> dict:
            made["expires_at"] = _expiry()
            made["device"], made["code"] = services.device_create(
                brand=request.brand,
                manager=request.staff,
                actor=Actor.from_request(request),
                store=store,
                data=data,
            )
            return {"device_id": made["device"].pk}

        try:
            result, replayed = once_per_form(
                request, d["key"], {"op": "device_create", "store": store.pk, **data}, write
            )
        except IdempotencyConflict:
            _conflict(form)
        except ValidationError as exc:
            apply_service_errors(form, exc)
            form.renew_key()
        else:
            if replayed:
                messages.info(
                    request,
                    _(
                        "This device was already added by this form. Its pairing code was shown once "
                        "and is not shown again: issue a new one if it is needed."
                    ),
                )
                return redirect("dash-device", result["device_id"])
            return pairing_page(
                request, made["device"], made["code"], kind="created", expires_at=made["expires_at"]
            )
    ctx = {"nav": "devices", "form": form, "stores": stores}
    return render(request, "devices/dashboard/new.html", ctx, status=form_status(form))


def _code_action(request, device_id: int, *, op: str, issue, kind: str, replayed_text: str):
    """A button that issues a pairing code (a new code, or a rotated credential): the code is shown
    once; sending the same form again shows nothing and issues nothing."""
    device = _device(request, device_id)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Nothing was changed. Please try again."))
        return redirect("dash-device", device.pk)
    made: dict = {}

    def write() -> dict:
        made["expires_at"] = _expiry()
        made["code"] = issue(
            brand=request.brand, manager=request.staff, actor=Actor.from_request(request), device=device
        )
        return {"device_id": device.pk}

    try:
        _result, replayed = once_per_form(
            request, form.cleaned_data["key"], {"op": op, "device": device.pk}, write
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return redirect("dash-device", device.pk)
    if replayed:
        messages.info(request, replayed_text)
        return redirect("dash-device", device.pk)
    device.refresh_from_db()
    return pairing_page(request, device, made["code"], kind=kind, expires_at=made["expires_at"])


@manager_required
@require_POST
def device_pairing_code(request, device_id: int):
    return _code_action(
        request,
        device_id,
        op="device_pairing_code",
        issue=services.pairing_code_issue,
        kind="code",
        replayed_text=_("A pairing code was already issued by this button. It was shown once."),
    )


@manager_required
@require_POST
def device_rotate(request, device_id: int):
    return _code_action(
        request,
        device_id,
        op="device_rotate",
        issue=services.device_rotate,
        kind="rotated",
        replayed_text=_(
            "The credential was already rotated by this button. The new pairing code was shown once."
        ),
    )


# --- a device's page ----------------------------------------------------------------------------


def _event_rows(request, device: Device, events: list[DeviceEvent]) -> list[dict]:
    """The events in words: who (staff ids resolved to names), how, and what the device said."""
    ids = {
        e.payload.get("staff")
        for e in events
        if isinstance(e.payload, dict) and isinstance(e.payload.get("staff"), int)
    }
    names = {}
    if ids:
        names = dict(Staff.objects.for_brand(request.brand).filter(pk__in=ids).values_list("pk", "name"))
    rows = []
    for e in events:
        p = e.payload if isinstance(e.payload, dict) else {}
        who, how, note, code = "", "", "", ""
        if e.type in (DeviceEvent.Type.PUNCH, DeviceEvent.Type.DOOR_OPENED):
            how = method_words(p.get("method"))
            if isinstance(p.get("staff"), int):
                who = names.get(p["staff"]) or _("Someone not on the staff list")
            note = p.get("reason") or ""
        elif e.type in (DeviceEvent.Type.DOOR_FORCED, DeviceEvent.Type.TAMPER):
            note = p.get("detail") or ""
        elif e.type == DeviceEvent.Type.IDENTIFY:
            size = p.get("bytes")
            if isinstance(size, int):
                note = _("An image of %(kb)s KB") % {"kb": max(1, round(size / 1024))}
        elif e.type == DeviceEvent.Type.ERROR:
            note = p.get("message") or _("The device reported an error.")
            code = str(p.get("code") or "")
        rows.append(
            {
                "event": e,
                "label": e.get_type_display(),
                "who": who,
                "how": how,
                "note": str(note)[:200],
                "code": code[:64],
            }
        )
    return rows


def _events(request, device: Device) -> dict:
    form = EventFilterForm(request.GET if "type" in request.GET else None)
    qs = selectors.device_event_list(brand=request.brand, device=device, type=form.value())
    page = Paginator(qs, EVENTS_PAGE).get_page(request.GET.get("page"))
    return {
        "event_form": form,
        "event_type": form.value(),
        "event_page": page,
        "event_rows": _event_rows(request, device, list(page.object_list)),
    }


def _command_rows(request, device: Device) -> list[dict]:
    rows = []
    for c in selectors.device_command_list(brand=request.brand, device=device)[:COMMANDS_SHOWN]:
        result = c.result if isinstance(c.result, dict) else {}
        rows.append({"command": c, "error": str(result.get("error") or "")[:200]})
    return rows


def _detail(
    request,
    device: Device,
    *,
    edit_form=None,
    settings_form=None,
    windows=None,
    door_form=None,
    command_form=None,
    status: int = 200,
):
    now = timezone.now()
    device.seen_ago = ago(device.last_seen_at, now)
    failed = ""
    for anchor, form in (
        ("device-form", edit_form),
        ("settings", settings_form),
        ("remote", door_form),
        ("remote", command_form),
    ):
        windows_bad = anchor == "settings" and windows is not None and windows.total_error_count()
        if form is not None and form.is_bound and (form.errors or windows_bad):
            failed = anchor
    ctx = {
        "failed": failed,
        "nav": "devices",
        "device": device,
        "tz": device.store.timezone,
        "skew": skew_words(device.clock_skew_ms),
        "language": dict(SettingsForm.base_fields["language"].choices).get(
            (device.config or {}).get("language"), ""
        ),
        "edit_form": edit_form or DeviceEditForm(initial=DeviceEditForm.initial_from(device)),
        "settings_form": settings_form or SettingsForm(initial=SettingsForm.initial_from(device)),
        "windows": windows if windows is not None else window_formset(device=device),
        "door_form": door_form or OpenDoorForm(),
        "command_form": command_form or CommandForm(initial={"name": "ring", "seconds": 5}),
        "code_form": ConfirmForm(),
        "rotate_form": ConfirmForm(),
        "commands": _command_rows(request, device),
        **_events(request, device),
    }
    response = render(request, "devices/dashboard/detail.html", ctx, status=status)
    return response


@manager_required
@require_GET
def device_detail(request, device_id: int):
    device = _device(request, device_id)
    if request.htmx and request.htmx.target == "device-events":
        ctx = {"device": device, "tz": device.store.timezone, **_events(request, device)}
        return render(request, "devices/dashboard/_events.html", ctx)
    return _detail(request, device)


def _actor(request) -> dict:
    return {"brand": request.brand, "manager": request.staff, "actor": Actor.from_request(request)}


@manager_required
@require_POST
def device_edit(request, device_id: int):
    device = _device(request, device_id)
    form = DeviceEditForm(request.POST)
    if form.is_valid():
        try:
            call_service(
                services.device_update, device=device, data=dict(form.cleaned_data), **_actor(request)
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("The device is saved."))
            return redirect("dash-device", device.pk)
    device.refresh_from_db()
    return _detail(request, device, edit_form=form, status=400)


@manager_required
@require_POST
def device_settings(request, device_id: int):
    device = _device(request, device_id)
    form = SettingsForm(request.POST)
    windows = window_formset(request.POST)
    if form.is_valid() & windows.is_valid():
        config = {**form.cleaned_data, "door_windows": windows_from(windows)}
        try:
            call_service(services.device_update, device=device, data={"config": config}, **_actor(request))
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(
                request,
                _(
                    "The settings are saved. The device uses them at once if it is online, "
                    "else when it connects."
                ),
            )
            return redirect("dash-device", device.pk)
    return _detail(request, device, settings_form=form, windows=windows, status=400)


@manager_required
@require_POST
def device_disable(request, device_id: int):
    device = _device(request, device_id)
    try:
        call_service(services.device_disable, device=device, **_actor(request))
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request, _("%(name)s is disabled: it is disconnected and cannot connect.") % {"name": device.name}
        )
    return redirect("dash-device", device.pk)


@manager_required
@require_POST
def device_enable(request, device_id: int):
    device = _device(request, device_id)
    try:
        call_service(services.device_enable, device=device, **_actor(request))
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("%(name)s is enabled again.") % {"name": device.name})
    return redirect("dash-device", device.pk)


@manager_required
@require_POST
def door_open(request, device_id: int):
    """Open a door terminal's door now, with a reason (the service audits it)."""
    device = _device(request, device_id)
    form = OpenDoorForm(request.POST)
    if form.is_valid():
        try:
            call_service(
                services.door_open_remote,
                device=device,
                reason=form.cleaned_data["reason"],
                **_actor(request),
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, _("The door is told to open."))
            return redirect("dash-device", device.pk)
    return _detail(request, device, door_form=form, status=400)


@manager_required
@require_POST
def command_send(request, device_id: int):
    """Ring, show a message or sync the staff list now."""
    device = _device(request, device_id)
    form = CommandForm(request.POST)
    if form.is_valid():
        try:
            call_service(
                services.device_command,
                brand=request.brand,
                manager=request.staff,
                actor=Actor.from_request(request),
                device=device,
                name=form.cleaned_data["name"],
                payload=form.payload(),
            )
        except ValidationError as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, _("The command is sent."))
            return redirect("dash-device", device.pk)
    return _detail(request, device, command_form=form, status=400)
