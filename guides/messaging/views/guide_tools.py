"""The guide's messaging tools: her settings page (busy, her auto-reply, her canned replies),
reporting and blocking a shopper, her notes about a member. POSTs answer JSON to a fetch
(``Accept: application/json``) and redirect a plain form back (``next``, else the 消息 tab)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from guides.messaging import productivity, safety, selectors
from guides.messaging.forms import AutoReplyForm, CannedForm
from retail.events import Actor
from retail.pages import call_service, safe_next, staff_required


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _done(request, ok_message: str, **data):
    if _wants_json(request):
        return JsonResponse({"ok": True, **data})
    messages.success(request, ok_message)
    return redirect(safe_next(request, reverse("messages-tab")))


def _refused(request, exc: Exception, status: int = 400):
    if isinstance(exc, PermissionDenied) and not _wants_json(request):
        raise exc  # the 403 page: not her conversation (another guide's, another brand's)
    if isinstance(exc, ValidationError):
        text = " ".join(exc.messages)
    else:
        text = str(exc) or _("You cannot do this.")
    if _wants_json(request):
        return JsonResponse({"ok": False, "error": text}, status=status)
    messages.error(request, text)
    return redirect(safe_next(request, reverse("messages-tab")))


def _settings_page(request, *, canned_form=None, auto_form=None, status=200):
    brand, staff = request.brand, request.staff
    own = productivity.guide_settings_get(brand=brand, staff=staff)
    ctx = {
        "tab": "messages",
        "own": own,
        "auto_form": auto_form or AutoReplyForm(initial={"auto_reply_text": own.auto_reply_text}),
        "canned_form": canned_form or CannedForm(),
        "brand_rows": selectors.brand_canned(brand=brand),
        "own_rows": selectors.own_canned(brand=brand, staff=staff),
    }
    return render(request, "guides/messaging/m/settings.html", ctx, status=status)


@staff_required
@require_http_methods(["GET"])
def settings_page(request):
    return _settings_page(request)


@staff_required
@require_POST
def busy_toggle(request):
    busy = request.POST.get("busy")
    if busy not in ("0", "1"):
        return _refused(request, ValidationError(_("Choose busy or available.")))
    row = productivity.busy_set(brand=request.brand, staff=request.staff, busy=busy == "1")
    if _wants_json(request):
        return JsonResponse({"ok": True, "busy": row.busy_since is not None})
    messages.success(request, _("You are marked busy.") if row.busy_since else _("You are available."))
    return redirect("messages-settings")


@staff_required
@require_POST
def auto_reply_save(request):
    form = AutoReplyForm(request.POST)
    if form.is_valid():
        productivity.guide_auto_reply_set(
            brand=request.brand, staff=request.staff, text=form.cleaned_data["auto_reply_text"]
        )
        messages.success(request, _("Your auto-reply is saved."))
        return redirect("messages-settings")
    return _settings_page(request, auto_form=form, status=400)


@staff_required
@require_POST
def canned_add(request):
    form = CannedForm(request.POST)
    if form.is_valid():
        try:
            call_service(
                productivity.canned_create,
                brand=request.brand,
                staff=request.staff,
                actor=None,
                mine=True,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Canned reply added."))
            return redirect("messages-settings")
    return _settings_page(request, canned_form=form, status=400)


@staff_required
@require_POST
def canned_delete(request, pk: int):
    call_service(
        productivity.canned_delete, brand=request.brand, staff=request.staff, actor=None, pk=pk, mine=True
    )
    messages.success(request, _("Canned reply deleted."))
    return redirect("messages-settings")


@staff_required
@require_POST
def report(request, conversation_id: int):
    try:
        call_service(
            safety.report_shopper,
            brand=request.brand,
            staff=request.staff,
            actor=Actor.from_request(request),
            conversation_id=conversation_id,
            reason=request.POST.get("reason", ""),
        )
    except PermissionDenied as exc:
        return _refused(request, exc, status=403)
    except ValidationError as exc:
        return _refused(request, exc)
    return _done(request, _("Reported. The brand will look into it."))


@staff_required
@require_POST
def block(request, conversation_id: int):
    try:
        call_service(
            safety.block_shopper,
            brand=request.brand,
            staff=request.staff,
            actor=Actor.from_request(request),
            conversation_id=conversation_id,
        )
    except PermissionDenied as exc:
        return _refused(request, exc, status=403)
    return _done(request, _("Blocked. This shopper can no longer send you messages."), blocked=True)


@staff_required
@require_POST
def unblock(request, conversation_id: int):
    try:
        call_service(
            safety.unblock_shopper,
            brand=request.brand,
            staff=request.staff,
            actor=Actor.from_request(request),
            conversation_id=conversation_id,
        )
    except PermissionDenied as exc:
        return _refused(request, exc, status=403)
    return _done(request, _("Unblocked."), blocked=False)


@staff_required
@require_POST
def note_add(request, conversation_id: int):
    try:
        note = call_service(
            productivity.note_add,
            brand=request.brand,
            staff=request.staff,
            conversation_id=conversation_id,
            body=request.POST.get("body", ""),
        )
    except PermissionDenied as exc:
        return _refused(request, exc, status=403)
    except ValidationError as exc:
        return _refused(request, exc)
    return _done(request, _("Note saved."), note={"id": note.pk, "body": note.body})


@staff_required
@require_POST
def note_delete(request, conversation_id: int, note_id: int):
    call_service(productivity.note_delete, brand=request.brand, staff=request.staff, note_id=note_id)
    return _done(request, _("Note deleted."))
